"""One home for every command whatever the working directory, and refusals that name it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from tests.factories import TEST_JWT_SECRET
from velro_graphql.api.auth import mint_token
from velro_graphql.api.startup import make_verifier
from velro_graphql.config import Settings
from velro_graphql.errors import Unauthenticated
from velro_graphql.serving import legacy_home_notice

OTHER_SECRET = "another-secret-that-is-also-32-bytes-long"


def token_from(folder: Path, env: dict[str, str]) -> str:
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "velro_graphql", "token", "--email", "a@example.com"]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_tokens_minted_from_any_folder_are_signed_with_the_one_home_secret(
    tmp_path: Path,
) -> None:
    configured = ("VELRO_HOME", "DATABASE_URL", "SUPABASE_JWT_SECRET")
    env = {k: v for k, v in os.environ.items() if k not in configured}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    tokens = [token_from(tmp_path / name, env) for name in ("repo", "elsewhere")]
    secret = (tmp_path / "data" / "velro-graphql" / "jwt_secret").read_text().strip()
    for token in tokens:
        jwt.decode(token, secret, algorithms=["HS256"], audience="authenticated")
    assert not any(tmp_path.glob("*/.velro"))


async def test_a_badly_signed_token_is_told_which_secret_the_server_uses(tmp_path: Path) -> None:
    verifier = make_verifier(Settings(velro_home=tmp_path))
    token = mint_token(secret=OTHER_SECRET, email="a@example.com", ttl_seconds=60, issuer=None)
    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    message = str(refused.value)
    assert message.startswith("Invalid token signature: ")
    assert str(tmp_path / "jwt_secret") in message and f"VELRO_HOME={tmp_path}" in message
    assert (tmp_path / "jwt_secret").read_text().strip() not in message


async def test_a_configured_server_names_the_variable_not_the_secret() -> None:
    settings = Settings(database_url="postgresql://db/v", supabase_jwt_secret=TEST_JWT_SECRET)
    token = mint_token(secret=OTHER_SECRET, email="a@example.com", ttl_seconds=60, issuer=None)
    with pytest.raises(Unauthenticated, match="SUPABASE_JWT_SECRET") as refused:
        await make_verifier(settings).verify(token)
    assert TEST_JWT_SECRET not in str(refused.value)


def test_a_relative_home_is_named_in_full(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VELRO_HOME", "here")
    assert Settings().velro_home == tmp_path / "here"


def test_an_old_dot_velro_is_pointed_out_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VELRO_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert legacy_home_notice(Settings()) is None
    (tmp_path / ".velro").mkdir()
    notice = legacy_home_notice(Settings())
    assert notice is not None and f"VELRO_HOME={tmp_path / '.velro'}" in notice
    assert Settings().velro_home == tmp_path / "data" / "velro-graphql"
    assert legacy_home_notice(Settings(velro_home=tmp_path / ".velro")) is None
