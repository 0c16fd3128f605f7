#!/usr/bin/env bash
# Install everything the project needs (core, both transports, dev tools), then run the
# whole check: ruff, mypy --strict and the full test suite. CI runs exactly this.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not soak"`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check \
    -e ".[dev]" -e transports/local -e transports/http
python -m ruff check .
python -m ruff format --check .
python -m mypy
python -m pytest "$@"
