"""The README's promise: `meet-sched run` on the sample site gives valid calendars, and a re-run changes nothing."""

from __future__ import annotations

import icalendar

from .conftest import SiteDir


def test_run_on_sample_site_writes_parseable_calendar(sample_site: SiteDir) -> None:
    first = sample_site.run("run", check=True)
    assert "added" in first.stdout
    path = sample_site.root / "calendars" / "sister-cities.ics"
    body = path.read_bytes()
    cal = icalendar.Calendar.from_ical(body)
    uids = {str(e["UID"]) for e in cal.walk("VEVENT")}
    assert "daegu-chengdu-bacninh-working-call@intl.daegu.example" in uids
    assert len(uids) == 5
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)

    again = sample_site.run("run", check=True)
    assert "nothing changed" in again.stdout
    assert path.read_bytes() == body
