"""Lines of tables, keys and array items in a TOML text: :mod:`tomllib` does not keep them."""

from __future__ import annotations

import re
import tomllib

KeyPath = tuple[str | int, ...]  # ("attendees", 1, "email")

_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_SCALAR_END = frozenset(",]}#\r\n")


class TomlLines:
    """Lines of tables, keys and array items in a TOML text (the standard parser does not keep them).

    The text has already been parsed by :mod:`tomllib`, so it is valid TOML: this only walks
    it, minding strings (multi-line ones too), comments, inline tables, arrays and arrays of
    tables, so that ``("attendees", 1, "email")`` maps to the line it is written on.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.out: dict[KeyPath, int] = {(): 1}
        self.tables: dict[KeyPath, int] = {}  # array of tables → index of its current element

    def scan(self) -> dict[KeyPath, int]:
        prefix: KeyPath = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return self.out
            line = self.line
            if self.text.startswith("[[", self.pos):
                self._advance(2)
                names = self._key()
                self._skip(newlines=False)
                self._advance(2)  # ]]
                table = (*self._resolve(names[:-1]), names[-1])
                index = self.tables.get(table, -1) + 1
                self.tables[table] = index
                self.out.setdefault(table, line)
                prefix = (*table, index)
                self.out[prefix] = line
            elif self.text.startswith("[", self.pos):
                self._advance(1)
                names = self._key()
                self._skip(newlines=False)
                self._advance(1)  # ]
                prefix = self._resolve(names)
                self.out[prefix] = line
            else:
                self._pair(prefix)

    def _resolve(self, names: KeyPath) -> KeyPath:
        """A table header's path, with the current index of every array of tables along it."""
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in self.tables:
                path = (*path, self.tables[path])
        return path

    def _pair(self, prefix: KeyPath) -> None:
        line = self.line
        keys = self._key()
        for depth in range(1, len(keys)):
            self.out.setdefault((*prefix, *keys[:depth]), line)
        self.out[(*prefix, *keys)] = line
        self._skip(newlines=False)
        self._advance(1)  # =
        self._value((*prefix, *keys))

    def _advance(self, n: int) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def _skip(self, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t" or (newlines and c in "\r\n"):
                self._advance(1)
            elif c == "#" and newlines:
                end = text.find("\n", self.pos)
                self._advance((len(text) if end < 0 else end) - self.pos)
            else:
                return

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            c = self.text[self.pos]
            if c in "\"'":
                start = self.pos
                self._string()
                raw = self.text[start : self.pos]
                parts.append(tomllib.loads(f"k = {raw}")["k"] if c == '"' else raw[1:-1])
            else:
                m = _TOML_BARE_KEY.match(self.text, self.pos)
                assert m is not None, "tomllib accepted this text"
                parts.append(m.group())
                self._advance(m.end() - self.pos)
            self._skip(newlines=False)
            if not self.text.startswith(".", self.pos):
                return tuple(parts)
            self._advance(1)

    def _string(self) -> None:
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, self.pos):
                i = self.pos + 3
                while not text.startswith(quote, i):
                    i += 2 if quote[0] == '"' and text[i] == "\\" else 1
                end = i + 3
                while end < len(text) and text[end] == quote[0] and end - i < 5:  # up to two quotes more
                    end += 1
                self._advance(end - self.pos)
                return
        quote = text[self.pos]
        i = self.pos + 1
        while text[i] != quote:
            i += 2 if quote == '"' and text[i] == "\\" else 1
        self._advance(i + 1 - self.pos)

    def _value(self, path: KeyPath) -> None:
        self._skip(newlines=False)
        c = self.text[self.pos]
        if c in "\"'":
            self._string()
        elif c in "[{":
            close = "]" if c == "[" else "}"
            self._advance(1)
            index = 0
            while True:
                self._skip(newlines=True)
                if self.text.startswith(close, self.pos):
                    self._advance(1)
                    return
                if self.text.startswith(",", self.pos):
                    self._advance(1)
                elif c == "{":
                    self._pair(path)
                else:
                    self.out[(*path, index)] = self.line
                    self._value((*path, index))
                    index += 1
        else:
            i = self.pos
            while i < len(self.text) and self.text[i] not in _TOML_SCALAR_END:
                i += 1
            self._advance(i - self.pos)


def toml_lines(text: str) -> dict[KeyPath, int]:
    """Lines of tables and keys in a TOML text (the standard parser does not keep them)."""
    scanner = TomlLines(text)
    try:
        return scanner.scan()
    except (IndexError, AssertionError):  # a construct the walk does not know: keep the lines found so far
        return scanner.out
