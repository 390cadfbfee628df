#!/usr/bin/env bash
# Install what is needed and run the whole suite: lint, format, types, tests.
VELRO_EXTRAS=test
source "$(dirname "$0")/env.sh"
ruff check .
ruff format --check .
mypy
python -m pytest "$@"
