"""Copy a site's database (meetings, outbox history, feed tokens) into an empty one, in one transaction."""

from __future__ import annotations

from sqlalchemy import Integer, Table, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError
from .db import Database, safe_url
from .tables import Base

COPY_CHUNK = 1000  # rows read and inserted at a time: memory stays bounded whatever the size


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before the rows that refer to them


def copy_database(source: Database, target: Database) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` and return the counts by table.

    ``target`` is migrated to the newest schema first and must hold no rows: a non-empty target
    is refused and nothing is written.  The rows go in in one transaction, so a failure leaves
    the target as empty as it was.  Ids are kept (the outbox's history and the feed tokens refer
    to them), and PostgreSQL's id sequences are moved past them.
    """
    where = safe_url(target.url)
    if safe_url(source.url) == where:
        raise DatabaseError(where, "the target is the site's own database")
    source.ensure_schema()
    target.ensure_schema()
    counts: dict[str, int] = {}
    try:
        with source.transaction() as src, target.transaction(write=True) as dst:
            for table in _tables():
                if dst.scalar(select(func.count()).select_from(table)):
                    raise DatabaseError(where, f"not empty: table {table.name} has rows; copy into an empty database")
            for table in _tables():
                n = 0
                rows = src.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                while chunk := rows.fetchmany(COPY_CHUNK):
                    dst.execute(insert(table), [dict(r) for r in chunk])
                    n += len(chunk)
                counts[table.name] = n
            if target.dialect == "postgresql":
                for table in _tables():
                    for column in table.primary_key.columns:
                        if not isinstance(column.type, Integer):  # a key that is not a counter (a hash)
                            continue
                        last = dst.scalar(select(func.max(column)))
                        dst.execute(
                            text("SELECT setval(pg_get_serial_sequence(:t, :c), :v, false)"),
                            {"t": table.name, "c": column.name, "v": int(last or 0) + 1},
                        )
    except SQLAlchemyError as exc:
        raise DatabaseError(where, str(exc).strip().splitlines()[0]) from None
    return counts
