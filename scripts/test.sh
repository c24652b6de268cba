#!/usr/bin/env bash
# Install meet-sched with its test dependencies into .venv from the lock file, then lint, check
# the formatting, type-check and run the whole suite: every tier (pytest --all; `pytest` alone runs the
# quick tier).  Extra arguments go to pytest.
#   bash scripts/test.sh --latest   the same suite on the newest releases pyproject.toml allows,
#                                   in .venv-latest: drift (a new Babel, a new icalendar) is seen
#                                   on purpose here, before a lock update, not by a user.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--latest" ]; then
  shift
  python3 -m venv .venv-latest
  .venv-latest/bin/python -m pip install -q --disable-pip-version-check --upgrade --upgrade-strategy eager -e ".[test]"
  .venv-latest/bin/python -m pip freeze --exclude-editable | sed 's/^/  /' | head -200 > .venv-latest/versions.txt
  echo "newest allowed releases (see .venv-latest/versions.txt):"
  venv=.venv-latest
  export MEET_SCHED_LATEST=1
else
  bash scripts/install.sh --test
  venv=.venv
fi
$venv/bin/ruff check src tests bench
$venv/bin/ruff format --check src tests bench
$venv/bin/mypy
$venv/bin/python -m pytest --all "$@"
