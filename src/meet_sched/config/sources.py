"""Reading YAML and TOML files into plain data, keeping the line of every key.

A :class:`Source` is the parsed data of one file plus a map from a key path
(``("attendees", 1, "email")``) to the line it was written on, so that every
problem found later can name ``file:line``.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from ..errors import Problem
from .limits import MAX_FILE_BYTES, MAX_NESTING, MAX_YAML_NODES
from .toml_lines import KeyPath as KeyPath  # the key paths of every Source
from .toml_lines import toml_lines


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


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same loader on libyaml's parser when PyYAML has it (several times faster on many files).

    Only the parser differs: resolving and constructing are the same Python code, with the
    same resolver table.  Errors are reported by :class:`_Loader`, so messages do not depend on it.
    """

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


class _BadValue(Exception):
    """A tagged scalar (``!!int abc``) that its constructor cannot read."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message
        self.root: yaml.Node | None = None  # the document, set once known


def _checked(kind: str, construct: Any, hint: str = "") -> Any:
    def checked(loader: Any, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError):
            value = str(node.value)
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise _BadValue(node, f"{shown!r} is not {kind} (!!{node.tag.rsplit(':', 1)[-1]}){hint}") from None

    return checked


_CHECKED_TAGS = {
    "int": _checked("a whole number", SafeConstructor.construct_yaml_int),
    "float": _checked("a number", SafeConstructor.construct_yaml_float),
    "bool": _checked("true or false", SafeConstructor.construct_yaml_bool),
    "timestamp": _checked(
        "a YAML timestamp",
        SafeConstructor.construct_yaml_timestamp,
        "; leave out the !!timestamp tag: a plain 2021-04-14T10:00 is read as a wall time",
    ),
}
for _loader_class in (_Loader, _FastLoader):
    for _tag, _construct in _CHECKED_TAGS.items():
        _loader_class.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct)


class _TooBig(Exception):
    """The document is nested too deeply, or too large once its aliases are expanded."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 1


def _scan_yaml(text: str, loader_class: type[Any]) -> None:
    """Bound the document from its events, before any node is built: depth and size, aliases expanded.

    An alias repeats a whole subtree; aliases of aliases grow exponentially (a few hundred bytes
    can stand for billions of values).  The events are a flat stream, so this costs one pass;
    every walk and construction after it sees at most MAX_YAML_NODES values, MAX_NESTING deep.
    """
    loader = loader_class(text)
    try:
        sizes: list[list[Any]] = []  # open collections: [anchor, values inside so far]
        anchors: dict[str, int] = {}  # anchor → values it stands for, once its node is complete
        total = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise _TooBig(
                        _line(event),
                        f"the alias *{event.anchor} refers to no complete anchor before it "
                        "(an alias may not stand for a list or table it is inside of)",
                    )
                count = anchors[event.anchor]
            elif isinstance(event, yaml.ScalarEvent):
                count = 1
                if event.anchor is not None:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(sizes) >= MAX_NESTING:
                    raise _TooBig(
                        _line(event),
                        f"lists and tables are nested more than {MAX_NESTING} deep (MAX_NESTING)",
                    )
                sizes.append([event.anchor, 1])
                total += 1
                continue
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, count = sizes.pop()
                if anchor is not None:
                    anchors[anchor] = count
                if sizes:
                    sizes[-1][1] += count
                continue
            else:
                continue
            total += count
            if sizes:
                sizes[-1][1] += count
            if total > MAX_YAML_NODES:
                raise _TooBig(
                    _line(event),
                    f"the document holds more than {MAX_YAML_NODES:,} values (MAX_YAML_NODES)"
                    + (
                        f", counting what the alias *{event.anchor} repeats"
                        if isinstance(event, yaml.AliasEvent)
                        else ""
                    ),
                )
    finally:
        loader.dispose()


def _parse_yaml(
    text: str, loader_class: type[Any], source: Source, problems: list[Problem]
) -> tuple[yaml.Node | None, Any]:
    """One pass over the text: the node tree (for lines) and the data built from it.

    Keys given twice are found before construction, which merges ``<<: *base`` keys into the
    mapping that names them (where overriding one is the point, not a mistake).
    """
    _scan_yaml(text, loader_class)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        found: list[Problem] = []
        _duplicate_yaml_keys(node, (), source, found)
        try:
            data = loader.construct_document(node)
            problems.extend(found)
            return node, data
        except _BadValue as exc:
            exc.root = node
            raise
    finally:
        loader.dispose()


def _path_of(root: yaml.Node, target: yaml.Node) -> KeyPath:
    """The key path of ``target`` in the tree (bounded: the tree was scanned before it was built)."""
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if node is target:
            return loc
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark)
                stack.extend(((key, loc), (value, (*loc, name))))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))
    return ()


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


def read_bytes(path: Path, shown: str, problems: list[Problem]) -> bytes | None:
    """The bytes of one config file, at most MAX_FILE_BYTES of them (checked before reading)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO in place of a file must not block
    except OSError as exc:
        problems.append(Problem(shown, None, "", f"cannot read: {exc.strerror}"))
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            problems.append(Problem(shown, None, "", "is not a regular file"))
            return None
        if info.st_size > MAX_FILE_BYTES:
            problems.append(Problem(shown, None, "", _too_big(info.st_size)))
            return None
        try:
            body = f.read(MAX_FILE_BYTES + 1)  # the file may grow between stat() and read()
        except OSError as exc:
            problems.append(Problem(shown, None, "", f"cannot read: {exc.strerror}"))
            return None
    if len(body) > MAX_FILE_BYTES:
        problems.append(Problem(shown, None, "", _too_big(len(body))))
        return None
    return body


def _too_big(size: int) -> str:
    return f"the file is {size:,} bytes; at most {MAX_FILE_BYTES:,} are read (MAX_FILE_BYTES)"


def _too_deep(data: Any) -> KeyPath | None:
    """The path of a value nested more than MAX_NESTING lists and tables deep, if any (no recursion)."""
    stack: list[tuple[Any, KeyPath]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if isinstance(item, dict | list):
                if len(loc) >= MAX_NESTING:
                    return (*loc, key)
                stack.append((item, (*loc, key)))
    return None


def read_source(path: Path, shown: str, problems: list[Problem], body: bytes | None = None) -> Source | None:
    """Parse one YAML or TOML file (``body``: its bytes, if already read); on a syntax error append a Problem."""
    if body is None:
        body = read_bytes(path, shown, problems)
        if body is None:
            return None
    try:
        # Universal newlines, as Path.read_text() reads them: CR LF and a lone CR become LF.
        text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = _TOML_WHERE.search(str(exc))
            message = _TOML_WHERE.sub("", str(exc)).strip()
            problems.append(Problem(shown, int(m.group(1)) if m else None, "", f"invalid TOML: {message}"))
            return None
        except RecursionError:  # tomllib recurses once per level of arrays and inline tables
            problems.append(
                Problem(shown, None, "", f"arrays and tables are nested more than {MAX_NESTING} deep (MAX_NESTING)")
            )
            return None
        if (deep := _too_deep(data)) is not None:
            problems.append(
                Problem(
                    shown,
                    None,
                    dotted(deep),
                    f"arrays and tables are nested more than {MAX_NESTING} deep (MAX_NESTING)",
                )
            )
            return None
        return Source(shown, data, toml_lines(text))
    source = Source(shown, None)
    try:
        try:
            node, data = _parse_yaml(text, _FastLoader, source, problems)
        except yaml.YAMLError:
            node, data = _parse_yaml(text, _Loader, source, problems)  # the same error, in the reference's words
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as a C1 control
        line = text.count("\n", 0, exc.position) + 1
        problems.append(Problem(shown, line, "", f"invalid YAML: the character U+{exc.character:04X} is not allowed"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {what}" + (f" ({context})" if context else "")
        problems.append(Problem(shown, mark.line + 1 if mark else None, "", message))
        return None
    except _TooBig as exc:
        problems.append(Problem(shown, exc.line, "", exc.message))
        return None
    except _BadValue as exc:
        loc = () if exc.root is None else _path_of(exc.root, exc.node)
        problems.append(Problem(shown, exc.node.start_mark.line + 1, dotted(loc), exc.message))
        return None
    source.data = data
    if node is not None:
        _yaml_lines(node, (), source.lines)
    return source
