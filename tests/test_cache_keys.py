"""No memoised function in src/ is keyed by a datetime without its zone (aware datetimes of one instant compare equal).

The rule, checked over the syntax tree of every module under ``src/``:

- a function decorated with ``functools.cache``, ``functools.lru_cache`` (called or not, imported
  under any of these names) has every parameter annotated, since an unannotated one may be anything;
- if one of its parameters is annotated with ``datetime`` or ``time`` (alone, optional or inside a
  container), the function also takes a parameter named ``zone`` or annotated ``ZoneInfo`` or
  ``tzinfo``: the zone the text or value is for.  ``datetime(…, Berlin) == datetime(…, Sydney)``
  when both are the same instant, and they hash alike, so a cache keyed by the datetime alone hands
  one zone's answer to the other.  A function that needs an instant and a wording takes the naive
  wall time (or the UTC instant) and the zone as two parameters.

Dictionary caches keyed by hand (the mail templates, the feed and page caches) cannot be read this way;
their keys name the recipient's zone key (``to.timezone.key``) or hold UTC instants only.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CACHES = {"cache", "lru_cache"}
TIMES = {"datetime", "time"}
ZONES = {"ZoneInfo", "tzinfo"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _names_in(annotation: ast.expr | None) -> set[str]:
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # a quoted annotation
        annotation = ast.parse(annotation.value, mode="eval").body
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(annotation) if isinstance(n, ast.Attribute)
    }


def offences(tree: ast.AST, where: str) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not any(_name(d) in CACHES for d in node.decorator_list):
            continue
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        args = [a for a in args if a.arg not in ("self", "cls")]
        at = f"{where}:{node.lineno}: {node.name}"
        for a in args:
            if a.annotation is None:
                out.append(f"{at}: parameter {a.arg!r} of a cached function has no annotation")
        timed = [a.arg for a in args if _names_in(a.annotation) & TIMES]
        zoned = any(a.arg == "zone" or _names_in(a.annotation) & ZONES for a in args)
        if timed and not zoned:
            out.append(f"{at}: cached by {', '.join(timed)} without a zone parameter")
    return out


def test_no_cache_is_keyed_by_a_datetime_without_its_zone() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        found += offences(ast.parse(path.read_text(encoding="utf-8")), path.relative_to(SRC).as_posix())
    assert found == []


def test_the_rule_catches_the_shapes_it_is_about() -> None:
    bad = """
from functools import lru_cache, cache
import functools

@lru_cache(maxsize=4096)
def _when(w: Words, moment: datetime, today: date) -> str: ...

@functools.cache
def later(moment: "datetime | None") -> str: ...

@cache
def anything(x) -> str: ...
"""
    good = """
@lru_cache(maxsize=4096)
def _when(w: Words, wall: datetime, zone: str, today: date) -> str: ...

@cache
def transitions(where: ZoneInfo, year: int) -> tuple[datetime, ...]: ...

def uncached(moment: datetime) -> str: ...
"""
    assert [line.split(": ", 1)[1] for line in offences(ast.parse(bad), "m.py")] == [
        "_when: cached by moment without a zone parameter",
        "later: cached by moment without a zone parameter",
        "anything: parameter 'x' of a cached function has no annotation",
    ]
    assert offences(ast.parse(good), "m.py") == []
