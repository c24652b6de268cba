"""A site with one monthly meeting of four attendees in four zones, and the reply fixtures that answer it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from meet_sched.site import Site
from meet_sched.store.tables import OutboxRow

from .conftest import SiteDir

FIXTURES = Path(__file__).resolve().parent / "data" / "replies"
UID = "working-call@test.example"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEC_10 = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 10:00 KST, the first occurrence
JAN_14 = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)  # the second

MEETING = """
uid: working-call@test.example
title: Working call
location: Video conference
timezone: Asia/Seoul
city: Daegu
start: {start}
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY=2TH
reminders: [1d, 10m]
attendees:
  - {{ name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu, role: chair }}
  - {{ name: Li Ming, email: li.ming@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }}
  - {{ name: Nguyễn Thu Hà, email: thuha.nguyen@bacninh.example, timezone: Asia/Ho_Chi_Minh, language: vi,
       city: Bac Ninh }}
  - {{ name: Ellis Carter, email: ellis@atlanta.example, timezone: America/New_York, city: Atlanta }}
"""


def make_site(site_dir: SiteDir, start: str = "2026-12-10T10:00", now: datetime = NOW) -> Site:
    site_dir.meeting("working-call.yaml", MEETING.format(start=start))
    site = Site(site_dir.root)
    site.open()
    site.sync(now)
    return site


def deliver(site: Site, *names: str, data: bytes | None = None) -> list[Path]:
    """Fixture messages into the site's inbox (Maildir new/), as an MTA would."""
    new = site.settings.inbox_dir / "new"
    for sub in ("tmp", "new", "cur"):
        (site.settings.inbox_dir / sub).mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names):
        target = new / f"17648{i:05d}.M{i}P1.test"
        shutil.copyfile(FIXTURES / name, target)
        out.append(target)
    if data is not None:
        target = new / f"17649{len(names):05d}.M9P1.test"
        target.write_bytes(data)
        out.append(target)
    return out


def pending_reminders(site: Site, recipient: str) -> list[datetime]:
    with site.db.transaction() as session:
        rows = session.scalars(
            select(OutboxRow.occurrence).where(
                OutboxRow.kind == "reminder", OutboxRow.status == "pending", OutboxRow.recipient == recipient
            )
        )
        return sorted({r for r in rows if r is not None})


def reply(partstat: str, *, who: str = "ellis@atlanta.example", seq: int = 0, stamp: str = "20261201T130000Z") -> bytes:
    """A minimal iMIP REPLY message (the shape Outlook sends), for answers the fixtures do not cover."""
    ics = (
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n"
        f"BEGIN:VEVENT\r\nATTENDEE;PARTSTAT={partstat}:mailto:{who}\r\nUID:{UID}\r\nSEQUENCE:{seq}\r\n"
        f"DTSTAMP:{stamp}\r\nDTSTART;TZID=Asia/Seoul:20261210T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return (
        f"From: <{who}>\r\nTo: office@test.example\r\nSubject: {partstat}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n\r\n{ics}'
    ).encode()
