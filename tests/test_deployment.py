"""Railway's config-as-code files: both parse, name commands the CLI has, use variables
config.py reads, and leave the worker time to drain; the README's walk-through names only
variables config.py reads."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from velro_graphql import cli
from velro_graphql.config import Settings

ROOT = Path(__file__).parent.parent
WEB, WORKER = ROOT / "railway.toml", ROOT / "railway.worker.toml"
VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)\}?")
KNOWN = {name.upper() for name in Settings.model_fields}


def deploy(path: Path) -> dict[str, Any]:
    config = tomllib.loads(path.read_text())
    assert config["build"]["builder"] == "RAILPACK"
    section: dict[str, Any] = config["deploy"]
    return section


@pytest.mark.parametrize("path", [WEB, WORKER], ids=lambda p: p.name)
def test_every_command_is_one_the_cli_accepts(path: Path) -> None:
    section = deploy(path)
    for key in ("startCommand", "preDeployCommand"):
        if key not in section:
            continue
        program, *argv = shlex.split(VARIABLE.sub("8000", section[key]))
        assert program == "velro-graphql", key
        cli._parser().parse_args(argv)  # exits (failing the test) on an unknown command


@pytest.mark.parametrize("path", [WEB, WORKER], ids=lambda p: p.name)
def test_commands_use_only_variables_config_reads(path: Path) -> None:
    section = deploy(path)
    used = {v for key in ("startCommand", "preDeployCommand")
            for v in VARIABLE.findall(section.get(key, ""))}  # fmt: skip
    assert used <= KNOWN


def test_web_migrates_before_deploying_and_the_worker_never_does() -> None:
    web, worker = deploy(WEB), deploy(WORKER)
    assert web["preDeployCommand"] == "velro-graphql migrate"
    assert "preDeployCommand" not in worker
    assert "--no-worker" in web["startCommand"]
    assert worker["startCommand"] == "velro-graphql worker"
    for section in (web, worker):
        assert section["healthcheckPath"] == "/health"
        assert section["restartPolicyType"] == "ON_FAILURE"


def test_the_worker_drains_within_railways_stop_timeout() -> None:
    drain = Settings.model_fields["worker_drain_seconds"].default
    assert isinstance(deploy(WORKER)["drainingSeconds"], int)  # Railway refuses strings
    assert deploy(WORKER)["drainingSeconds"] >= drain + 10  # leases given back after it


def test_the_walk_through_names_only_variables_config_reads() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Deploying on Railway", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", section))
    referenced = set(re.findall(r"\$\{\{(?:shared|Redis|web)\.([A-Z_]+)\}\}", section))
    assert named, "the walk-through names the variables to set"
    assert {"REDIS_URL", "METRICS_PORT", "DATABASE_URL"} <= named
    assert named - KNOWN <= {"RAILWAY_PUBLIC_DOMAIN"}
    assert referenced <= KNOWN | {"RAILWAY_PUBLIC_DOMAIN"}
    assert "${{Redis.REDIS_URL}}" in section
