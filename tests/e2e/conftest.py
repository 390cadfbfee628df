"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    """A VELRO_HOME outside pytest's temporary root: run as root, the embedded PostgreSQL runs
    as another user, and every new pytest session (another test run on the same machine) makes
    that root private again, under a server that is starting."""
    home = Path(tempfile.mkdtemp(prefix="velro-e2e-"))
    yield home / "velro"
    shutil.rmtree(home, ignore_errors=True)
