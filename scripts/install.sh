#!/usr/bin/env bash
# Create .venv and install meet-sched into it from the committed lock file, so every machine
# gets the exact versions (and hashes) the tests were run with.
#   bash scripts/install.sh          runtime only (requirements/main.txt)
#   bash scripts/install.sh --test   runtime, tests, linters and type checker (requirements/test.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements/main.txt
[ "${1:-}" = "--test" ] && lock=requirements/test.txt
python3 -m venv .venv
# --require-hashes: a file whose hash is not in the lock is refused, whatever the index serves.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
# The project itself, with no dependencies of its own and no build isolation: setuptools and
# wheel come from the lock as well.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
