#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml for Python 3.11 on Linux, exact versions with
# their hashes.  Run it on purpose, then `bash scripts/test.sh`, and commit pyproject.toml and
# requirements/ together:
#   bash scripts/lock.sh            keep every pin that still fits, add what pyproject.toml added
#   bash scripts/lock.sh --upgrade  move every pin to the newest release pyproject.toml allows
#   requirements/test.txt  everything: runtime, PostgreSQL driver, tests, linters, build backend
#   requirements/main.txt  the runtime subset, constrained to the same versions
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check "pip-tools==7.6.2"
opts=(--quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps
      --no-emit-find-links --no-emit-index-url)
[ "${1:-}" = "--upgrade" ] && opts+=(--upgrade)
"$tools/bin/pip-compile" "${opts[@]}" --extra test --extra postgres -o requirements/test.txt pyproject.toml
"$tools/bin/pip-compile" "${opts[@]}" --extra postgres -c requirements/test.txt -o requirements/main.txt pyproject.toml
echo "wrote requirements/test.txt and requirements/main.txt"
