"""Fuzz the config loader with atheris: any bytes as a meeting file end in meetings or problems, nothing else.

Not part of the test suite.  Needs ``pip install atheris`` (it builds against clang's libFuzzer).

    .venv/bin/python scripts/fuzz_config.py --seconds 60            # seeds: the sample site's meetings
    .venv/bin/python scripts/fuzz_config.py --seconds 600 var/fuzz  # keep the corpus in var/fuzz

A crash (any exception but ConfigError, a time-out of one input or more than 1 GB of memory)
stops the run and leaves the input in ``crash-*`` in the current folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from meet_sched.config.loader import _meetings_in, load_settings
    from meet_sched.config.sources import read_source
    from meet_sched.errors import Problem

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = (".yaml", ".toml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long to run (default 60)")
    parser.add_argument("corpus", nargs="?", help="a folder to keep the corpus in (default: a temporary one)")
    args, rest = parser.parse_known_args()

    site = Path(tempfile.mkdtemp(prefix="fuzz-site-"))
    settings = load_settings(site, environ={})
    corpus = Path(args.corpus) if args.corpus else Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in sorted((REPO / "config" / "meetings").rglob("*")):
        if seed.suffix in (".yaml", ".yml", ".toml"):
            (corpus / f"seed-{seed.name}").write_bytes(
                bytes([SUFFIXES.index(".toml" if seed.suffix == ".toml" else ".yaml")]) + seed.read_bytes()
            )

    def one_input(data: bytes) -> None:
        if not data:
            return
        suffix = SUFFIXES[data[0] % len(SUFFIXES)]
        shown = f"config/meetings/fuzz{suffix}"
        problems: list[Problem] = []
        source = read_source(Path(shown), shown, problems, data[1:])
        if source is not None:
            _meetings_in(source, settings, problems)
        for problem in problems:
            str(problem).encode("utf-8")  # every problem can be printed

    try:
        atheris.Setup(
            [
                sys.argv[0],
                *rest,
                f"-max_total_time={args.seconds}",
                "-rss_limit_mb=1024",
                "-timeout=10",
                f"-dict={Path(__file__).with_suffix('.dict')}",
                str(corpus),
            ],
            one_input,
        )
        atheris.Fuzz()
    finally:
        shutil.rmtree(site, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
