"""Settings: the embedded default, configured mode, and refusing placeholder secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import TEST_JWT_SECRET
from velro_graphql.cli import main
from velro_graphql.config import Settings
from velro_graphql.errors import ConfigError

DB = "postgresql://u@localhost/db"


def test_no_database_url_is_the_embedded_default(tmp_path: Path) -> None:
    settings = Settings(velro_home=tmp_path)
    assert settings.embedded
    settings.check()
    assert settings.graphiql_enabled and settings.introspection_enabled
    secret = settings.local_jwt_secret()
    assert len(secret) >= 32 and settings.local_jwt_secret() == secret  # kept, not regenerated
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({}, "SUPABASE_JWT_SECRET"),
        ({"supabase_jwt_secret": "changeme"}, "SUPABASE_JWT_SECRET"),
        ({"supabase_jwt_secret": "short"}, "SUPABASE_JWT_SECRET"),
        ({"supabase_jwt_secret": TEST_JWT_SECRET, "fal_key": "your-fal-key"}, "FAL_KEY"),
        (
            {"supabase_url": "https://x.supabase.co", "supabase_service_role_key": "<service>"},
            "SUPABASE_SERVICE_ROLE_KEY",
        ),
        ({"supabase_url": "https://x.supabase.co"}, "SUPABASE_SERVICE_ROLE_KEY"),
    ],
)
def test_configured_mode_refuses_missing_or_placeholder_secrets(
    overrides: dict[str, str], variable: str
) -> None:
    settings = Settings(database_url=DB, **overrides)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=variable):
        settings.check()


def test_configured_mode_defaults_to_production_edges() -> None:
    settings = Settings(database_url=DB, supabase_jwt_secret=TEST_JWT_SECRET)
    settings.check()
    assert not settings.graphiql_enabled and not settings.introspection_enabled


def test_cors_origins_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ("https://a.example", "https://b.example")


def test_the_command_line_names_the_variable_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", DB)
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "changeme")
    assert main(["serve", "--port", "1"]) == 2
    assert "SUPABASE_JWT_SECRET" in capsys.readouterr().err


def test_token_prints_one_line_and_creates_no_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VELRO_HOME", str(tmp_path))
    assert main(["token", "--email", "a@example.com", "--ttl", "60"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.count(".") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt_secret"]
