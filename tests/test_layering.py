"""The architecture in the README: lower layers never import higher ones (checked by reading imports with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "meet_sched"

# what the domain (model and the modules beside it) must never import
ABOVE_DOMAIN = {
    "config",
    "store",
    "ics",
    "vevent",
    "mail",
    "delivery",
    "site",
    "service",
    "web",
    "cli",
    "agenda",
    "places",
}

# module (or package) → the meet_sched modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "model": ABOVE_DOMAIN,
    "localtimes": ABOVE_DOMAIN,
    "occurrences": ABOVE_DOMAIN,
    "marks": ABOVE_DOMAIN,
    "durations": ABOVE_DOMAIN | {"model", "recurrence", "localtimes"},
    "recurrence": ABOVE_DOMAIN | {"model", "durations", "localtimes"},
    "places": ABOVE_DOMAIN - {"places"} | {"workhours"},
    "errors": ABOVE_DOMAIN | {"model", "durations", "recurrence", "localtimes"},
    "config": {"store", "ics", "vevent", "mail", "delivery", "site", "service", "web", "cli", "agenda"},
    "store": {"config", "ics", "vevent", "mail", "delivery", "site", "service", "web", "cli", "agenda"},
    "ics": {"store", "mail", "delivery", "site", "service", "web", "cli"},
    "vevent": {"ics", "store", "mail", "delivery", "site", "service", "web", "cli"},
    "mail": {"delivery", "site", "service", "web", "cli"},
    "delivery": {"web", "cli"},
    "site": {"service", "web", "cli"},
    "web": {"cli", "delivery", "replies"},
    "replies": {"web", "cli", "delivery"},
    "rsvp": {"web", "cli", "delivery", "replies", "service"},
}


def _owner(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = path.relative_to(PACKAGE).parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("meet_sched."):
                    found.add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("meet_sched."):
                found.add(node.module.split(".")[1])
            elif node.level > 0:
                base = list(package_parts[: len(package_parts) - (node.level - 1)])
                target = [*base, *(node.module.split(".") if node.module else [])]
                if target:
                    found.add(target[0])
                else:
                    found.update(alias.name for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path: Path) -> None:
    owner = _owner(path)
    bad = _imports(path) & FORBIDDEN.get(owner, set())
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}, which sit above {owner!r}"


def test_the_check_sees_relative_imports() -> None:
    assert "store" in _imports(PACKAGE / "site.py")
    assert "model" in _imports(PACKAGE / "config" / "loader.py")


IMPURE = {"sqlalchemy", "alembic", "psycopg", "httpx", "starlette", "uvicorn", "smtplib", "aiosmtplib", "socket"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "places").glob("*.py")), ids=lambda p: p.name)
def test_places_are_pure(path: Path) -> None:
    """places/ reads no database, HTTP or SMTP: it can be tested and reused without any of them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level
    }
    assert not names & IMPURE, f"places/{path.name} imports {sorted(names & IMPURE)}"
