"""Raw SQL on a test site's database, SQLite file or PostgreSQL, read past meet-sched's own store code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text

from meet_sched.config import load_settings


def database_url(root: Path) -> str:
    """The database the site's config names (its own SQLite file when it names none)."""
    return load_settings(root, environ={}).database_url


@contextmanager
def connect(root: Path) -> Iterator[Connection]:
    """One transaction on the site's database, committed at the end, on an engine of its own."""
    engine = create_engine(database_url(root))
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def query(root: Path, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of one SELECT (``:name`` parameters), as plain tuples."""
    with connect(root) as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def execute(root: Path, sql: str, **params: Any) -> int:
    """One statement that changes rows; how many it changed."""
    with connect(root) as conn:
        return conn.execute(text(sql), params).rowcount
