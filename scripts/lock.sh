#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml: the newest releases it allows, for Python 3.11
# on Linux, exact versions with their hashes.  Run it on purpose (a new dependency, a version
# bump), then `bash scripts/test.sh` and commit pyproject.toml and requirements/ together.
#   requirements/test.txt  everything: runtime, PostgreSQL driver, tests, linters, build backend
#   requirements/main.txt  the runtime subset, constrained to the same versions
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check "pip-tools==7.6.2"
opts=(--quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps
      --no-emit-find-links --no-emit-index-url --upgrade)
"$tools/bin/pip-compile" "${opts[@]}" --extra test --extra postgres -o requirements/test.txt pyproject.toml
"$tools/bin/pip-compile" "${opts[@]}" --extra postgres -c requirements/test.txt -o requirements/main.txt pyproject.toml
echo "wrote requirements/test.txt and requirements/main.txt"
