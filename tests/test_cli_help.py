"""Every command's --help names the environment variables it reads, with their defaults."""

from __future__ import annotations

import argparse

import pytest

from velro_graphql import cli
from velro_graphql.config import Settings


def commands() -> list[str]:
    (choices,) = (
        action.choices
        for action in cli._parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    return list(choices)


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_every_command_declares_what_it_reads() -> None:
    assert set(commands()) == set(cli.ENVIRONMENT)
    for fields in cli.ENVIRONMENT.values():
        assert set(fields) <= set(Settings.model_fields)


@pytest.mark.parametrize("command", commands())
def test_help_names_each_variable_and_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    assert "environment variables" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    for field in cli.ENVIRONMENT[command]:
        assert f"default: {cli._default(field)}" in lines[field.upper()]


def test_a_setting_is_read_by_serve_or_the_worker() -> None:
    read = set(cli.ENVIRONMENT["serve"]) | set(cli.ENVIRONMENT["worker"])
    assert read == set(Settings.model_fields)


def test_defaults_read_as_an_operator_writes_them(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("worker", capsys)
    assert "METRICS_PORT" in text and "WORKER_DRAIN_SECONDS" in text
    assert "DATABASE_URL" in text and "default: unset" in text
    assert "GRAPHIQL" not in text  # the API's alone
    assert "PORT " in help_of("serve", capsys)
    assert help_of("migrate", capsys).count("default:") == 2
