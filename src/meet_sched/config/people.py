"""One person across the meeting files: the zone, language and city the files give an address.

A person's zone and language follow them from file to file: ``meet-sched new`` writes a known address
with what the other files say of it, and ``validate`` warns where two files disagree (each with its
``path:line``), since a meeting file that leaves them out gives the meeting's zone and English.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import Problem
from .notes import Located


@dataclass(frozen=True)
class Listing:
    """One address as one meeting lists it: what it says, what it is stated as, and where."""

    email: str  # as written
    name: str
    zone: str  # the zone it has (stated, from a place, or the meeting's)
    language: str
    city: str | None
    place: str | None
    zone_given: bool  # ``timezone:`` or ``place:`` written for it
    language_given: bool
    path: str
    line: int | None
    field: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def listings(items: Iterable[Located]) -> list[Listing]:
    """Every attendee of every meeting (not of single occurrences), in file order."""
    out = []
    for item in items:
        for i, a in enumerate(item.meeting.attendees):
            key = f"attendees.{i}"
            out.append(
                Listing(
                    email=a.email,
                    name=a.name,
                    zone=a.timezone.key,
                    language=a.language,
                    city=a.city,
                    place=a.place,
                    zone_given=f"{key}.timezone" in item.lines or f"{key}.place" in item.lines,
                    language_given=f"{key}.language" in item.lines,
                    path=item.path,
                    line=item.lines.get(key) or item.lines.get(""),
                    field=f"attendees[{i}]",
                )
            )
    return out


def _by_address(found: Iterable[Listing]) -> dict[str, list[Listing]]:
    out: dict[str, list[Listing]] = {}
    for listing in found:
        out.setdefault(listing.email.lower(), []).append(listing)
    return out


def _usual(found: list[Listing], what: str) -> Listing:
    """The listing whose ``what`` (zone or language) the files give most often, written out counting
    before left out; the first such in file order."""
    given = [f for f in found if getattr(f, f"{what}_given")]
    pool = given or found
    counts = Counter(getattr(f, what) for f in pool)
    best = max(counts.values())
    return next(f for f in pool if counts[getattr(f, what)] == best)


@dataclass(frozen=True)
class Known:
    """What the meeting files write out for one address (None: no file does), and where."""

    name: str
    zone: str | None
    place: str | None
    language: str | None
    city: str | None
    where: str


def known(items: Iterable[Located]) -> dict[str, Known]:
    """Addresses whose zone or language some file writes out, by address (lower-case): the zone and
    the language most files give them, with the city and name of the listing giving that zone."""
    out = {}
    for email, found in _by_address(listings(items)).items():
        zoned = [f for f in found if f.zone_given]
        spoken = [f for f in found if f.language_given]
        if not zoned and not spoken:
            continue
        zone = _usual(zoned, "zone") if zoned else None
        language = _usual(spoken, "language") if spoken else None
        first = zone or language
        assert first is not None
        out[email] = Known(
            name=next((f.name for f in found if f.name), ""),
            zone=zone.zone if zone else None,
            place=zone.place if zone else None,
            language=language.language if language else None,
            city=next((f.city for f in (zoned or found) if f.city), None),
            where=first.where,
        )
    return out


def people_notes(items: Iterable[Located]) -> list[Problem]:
    """An address with another zone or language in one meeting than in others: a warning at each
    listing that differs from the usual one, naming where the usual one is."""
    out = []
    for found in _by_address(listings(items)).values():
        if len(found) < 2:
            continue
        for what, label in (("zone", "timezone"), ("language", "language")):
            usual = _usual(found, what)
            for f in found:
                value = getattr(f, what)
                if value == getattr(usual, what):
                    continue
                given = getattr(f, f"{what}_given")
                how = "" if given else " (none given: the meeting's)" if what == "zone" else " (none given: English)"
                message = (
                    f"{f.email} has {label} {value} here{how} but {getattr(usual, what)} in {usual.where}; "
                    f"give the same {label} in every file"
                )
                out.append(Problem(f.path, f.line, f.field, message))
    return out
