"""Reading YAML and TOML files into plain data, keeping the line of every key.

A :class:`Source` is the parsed data of one file plus a map from a key path
(``("attendees", 1, "email")``) to the line it was written on, so that every
problem found later can name ``file:line``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem

KeyPath = tuple[str | int, ...]


@dataclass
class Source:
    path: str  # as shown to the user (relative to the site root)
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, loc: KeyPath) -> int | None:
        """The line of ``loc``, or of its nearest parent that has one."""
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return None
            loc = loc[:-1]

    def problem(self, loc: KeyPath, message: str) -> Problem:
        return Problem(self.path, self.line(loc), dotted(loc), message)


def dotted(loc: KeyPath) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates, times and yes/no as text.

    The schema decides what a value means: ``start: 2021-04-14 10:00`` stays the
    wall time the user wrote, ``language: no`` stays Norwegian, ``1:30`` is not 90.
    """


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:timestamp",)]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _ch in "yYnNoO":
    _Loader.yaml_implicit_resolvers[_ch] = [
        (tag, rx) for tag, rx in _Loader.yaml_implicit_resolvers.get(_ch, []) if tag != "tag:yaml.org,2002:bool"
    ]
# YAML 1.1 reads 1:30 as a base-60 number; nobody writing config means that.
for _ch in list(_Loader.yaml_implicit_resolvers):
    _Loader.yaml_implicit_resolvers[_ch] = [
        (tag, rx)
        for tag, rx in _Loader.yaml_implicit_resolvers[_ch]
        if not (tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in rx.pattern)
    ]
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$"),
    list("-+0123456789"),
)


def _yaml_lines(node: yaml.Node, loc: KeyPath, out: dict[KeyPath, int]) -> None:
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark)
            out[(*loc, name)] = key.start_mark.line + 1
            _yaml_lines(value, (*loc, name), out)
            out[(*loc, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, (*loc, i), out)


def _duplicate_yaml_keys(node: yaml.Node, loc: KeyPath, source: Source, problems: list[Problem]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            line = key.start_mark.line + 1
            if name in seen:
                problems.append(
                    Problem(source.path, line, dotted((*loc, name)), f"given twice (first on line {seen[name]})")
                )
            seen.setdefault(name, line)
            _duplicate_yaml_keys(value, (*loc, name), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_yaml_keys(item, (*loc, i), source, problems)


_TOML_WHERE = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _toml_key(part: str) -> str:
    part = part.strip()
    return part[1:-1] if part[:1] in "\"'" else part


def _toml_lines(text: str) -> dict[KeyPath, int]:
    """Lines of tables and keys in a TOML text (the standard parser does not keep them)."""
    out: dict[KeyPath, int] = {(): 1}
    prefix: KeyPath = ()
    counts: dict[KeyPath, int] = {}
    depth = 0  # inside a multi-line array or string we do not look for keys
    for number, line in enumerate(text.splitlines(), start=1):
        if depth == 0 and (m := _TOML_HEADER.match(line)):
            names: KeyPath = tuple(_toml_key(p) for p in m.group(2).split("."))
            if m.group(1) == "[[":
                index = counts.get(names, -1) + 1
                counts[names] = index
                prefix = (*names, index)
                out[names] = out.get(names, number)
            else:
                prefix = names
            out[prefix] = number
            continue
        if depth == 0 and (m := _TOML_KEY.match(line)):
            keys: KeyPath = tuple(_toml_key(p) for p in m.group(1).split("."))
            out[(*prefix, *keys)] = number
        stripped = re.sub(r'"[^"]*"|\'[^\']*\'', "", line.split("#", 1)[0])
        depth = max(0, depth + stripped.count("[") + stripped.count("{") - stripped.count("]") - stripped.count("}"))
    return out


def read_source(path: Path, shown: str, problems: list[Problem]) -> Source | None:
    """Parse one YAML or TOML file; on a syntax error append a Problem and return None."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return None
    except OSError as exc:
        problems.append(Problem(shown, None, "", f"cannot read: {exc.strerror}"))
        return None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = _TOML_WHERE.search(str(exc))
            message = _TOML_WHERE.sub("", str(exc)).strip()
            problems.append(Problem(shown, int(m.group(1)) if m else None, "", f"invalid TOML: {message}"))
            return None
        return Source(shown, data, _toml_lines(text))
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {what}" + (f" ({context})" if context else "")
        problems.append(Problem(shown, mark.line + 1 if mark else None, "", message))
        return None
    source = Source(shown, data)
    if node is not None:
        _yaml_lines(node, (), source.lines)
        _duplicate_yaml_keys(node, (), source, problems)
    return source
