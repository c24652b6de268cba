"""What ``config/meet-sched.toml`` may say: one section class per table, every key with its default,
help and check (a field validator of :mod:`meet_sched.config.fields`).

:class:`SettingsSpec` only describes and converts; :mod:`meet_sched.config.loader` reads it into
:class:`~meet_sched.config.settings.Settings` and words its errors with file and line, and the JSON
Schema editors read is generated from it (:mod:`meet_sched.config.json_schema`).
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import Field

from . import limits
from .fields import (
    CalendarName,
    Country,
    Duration,
    DurationOrOff,
    Email,
    FileMode,
    Hours,
    Language,
    Line,
    PlaceName,
    Reminders,
    Sender,
    Strict,
    TimeOfDay,
    Url,
    Weekday,
    Zone,
    at_most,
)
from .meeting_spec import PersonSpec


class CalendarSection(Strict):
    name: Line = Field("Meetings", description="Calendar name shown by clients (NAME, X-WR-CALNAME).")
    domain: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$")] = Field(
        "meet-sched.localhost", description="Domain of UIDs and Message-IDs; PRODID names it too."
    )
    organizer: PersonSpec = Field(
        default_factory=lambda: PersonSpec(name="meet-sched", email="meet-sched@example.org"),
        description="Organizer of meetings whose file names none (RFC 5546 needs one).",
    )
    refresh_interval: Annotated[Duration, at_most(limits.MAX_REFRESH_INTERVAL, "refresh interval")] = Field(
        timedelta(hours=1), description="How often clients should re-fetch feeds."
    )
    language: Language = Field("en", description="Language of feed text (the zone line in descriptions).")
    timezone: Zone | None = Field(
        None,
        description="Zone the commands show times in; default: the organizer's, else the attendees' most common.",
    )
    file_mode: FileMode | None = Field(
        None, description='Mode of the files in calendars/, e.g. "0640"; default: 0666 less the umask.'
    )


class CalendarEntry(Strict):
    name: Line | None = Field(None, description="Display name of this calendar (page, NAME / X-WR-CALNAME).")


class DatabaseSection(Strict):
    url: Line | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///var/meet-sched.db; env MEET_SCHED_DATABASE_URL wins."
    )


class RemindersSection(Strict):
    default: Reminders = Field(
        default_factory=lambda: [timedelta(days=1), timedelta(minutes=10)],
        description="Offsets before start for meetings that set none.",
    )
    horizon: Annotated[Duration, at_most(limits.MAX_HORIZON, "reminder horizon")] = Field(
        timedelta(days=60), description="How far ahead reminders are planned."
    )
    all_day_at: TimeOfDay = Field(
        time(9, 0), description="Local time in each attendee's zone at which all-day meetings' reminders go out."
    )


class SmtpSection(Strict):
    host: Line
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Line | None = Field(None, description="The password comes only from env MEET_SCHED_SMTP_PASSWORD.")
    sender: Sender = Field(description='From header, e.g. "Daegu International Relations <intl@example.org>".')
    max_connections: Annotated[int, Field(ge=1, le=64)] = 4
    timeout: Annotated[Duration, at_most(limits.MAX_SMTP_TIMEOUT, "SMTP timeout")] = Field(
        timedelta(seconds=30), description="Per-command timeout."
    )
    ca_file: Line | None = Field(
        None, description="PEM file of extra CA certificates to trust (a private CA); relative to the site."
    )


class DeliverySection(Strict):
    maildir: Line = Field(
        "var/mail", description="Without [smtp], every message is delivered into this Maildir (relative to the site)."
    )
    retry_base: Annotated[Duration, at_most(limits.MAX_RETRY_BASE, "first retry wait")] = Field(
        timedelta(seconds=30), description="Wait after a first temporary failure; doubles each time, with jitter."
    )
    retry_max: Annotated[Duration, at_most(limits.MAX_RETRY_MAX, "wait between retries")] = Field(
        timedelta(hours=1), description="Longest wait between two attempts."
    )
    give_up_after: Annotated[Duration, at_most(limits.MAX_GIVE_UP_AFTER, "time to keep retrying")] = Field(
        timedelta(days=2), description="An invitation still failing this long after it was due is marked failed."
    )
    lease: Annotated[Duration, at_most(limits.MAX_LEASE, "lease")] = Field(
        timedelta(minutes=2), description="How long a claimed message is reserved for the process sending it."
    )
    update_quiet: Annotated[DurationOrOff, at_most(limits.MAX_UPDATE_QUIET, "update quiet period")] = Field(
        timedelta(minutes=2),
        description="Updates wait this long after an edit, so that quick edits make one update; 0s: at once.",
    )


class NotifySection(Strict):
    errors_to: list[Email] = Field(
        default_factory=list,
        description="Who is mailed when the running service refuses a config change, and when it is fixed; "
        "default: the [calendar] organizer.",
    )


class InvitationsSection(Strict):
    enabled: bool = Field(True, description="Email invitations, updates and cancellations (iMIP).")
    feed_link: bool = Field(
        False,
        description="A first invitation to an attendee without a personal feed carries a new one "
        "(webcal:// and https://); needs [server] base_url.",
    )


class ServerSection(Strict):
    listen: Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$")] = "127.0.0.1:8080"
    base_url: Url | None = Field(None, description="Public base of links; default http://<listen>.")
    public_calendars: list[str] = Field(default_factory=list, description="Served without a token.")
    public_attendees: bool = Field(
        False,
        description="List attendees (names and email addresses) in public feeds; off, anyone with the URL "
        "could collect them. Personal feeds always list them.",
    )
    working_hours: Hours = Field("09:00-18:00", description="Local working hours, drawn on the agenda page.")
    working_hours_by_zone: dict[Zone, Hours] = Field(
        default_factory=dict, description='Other hours for some zones, e.g. { "Asia/Ho_Chi_Minh" = "08:00-17:00" }.'
    )
    holidays: bool = Field(True, description="Mark weekends and public holidays (country from the zone) on the page.")
    agenda_days: Annotated[int, Field(ge=1, le=366)] = Field(60, description="How many days ahead the page lists.")


class ImapSection(Strict):
    host: Line = Field(description="The IMAP server's name (its certificate must name it).")
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    security: Literal["tls", "starttls"] = Field(
        "tls", description="tls: IMAPS (port 993); starttls: plain IMAP upgraded before login (port 143)."
    )
    username: Line = Field(description="The password comes only from env MEET_SCHED_IMAP_PASSWORD.")
    folder: Line = Field("INBOX", description="Where replies arrive.")
    processed_folder: Line = Field("meet-sched-processed", description="Handled messages are moved here.")
    quarantine_folder: Line = Field("meet-sched-quarantine", description="Refused messages are moved here.")
    poll: Annotated[Duration, at_most(limits.MAX_IMAP_POLL, "IMAP poll interval")] = Field(
        timedelta(minutes=1), description="How often to look without IDLE (and the longest IDLE wait)."
    )
    ca_file: Line | None = Field(
        None, description="PEM file of extra CA certificates to trust (a private CA); relative to the site."
    )


class RepliesSection(Strict):
    enabled: bool = Field(True, description="Read attendees' answers (iMIP REPLY, COUNTER) while serving.")
    maildir: Line = Field(
        "var/inbox", description="Without [replies.imap], answers are read from this Maildir (relative to the site)."
    )
    max_bytes: Annotated[int, Field(ge=1024, le=limits.MAX_REPLY_BYTES_LIMIT)] = Field(
        limits.MAX_REPLY_BYTES, description="A bigger message is quarantined unread."
    )
    imap: ImapSection | None = None
    summary: Literal["each", "daily", "off"] = Field(
        "off",
        description="Mail each meeting's organizer who answered what: each (one mail a short while after "
        "answers change, [delivery] update_quiet), daily (one mail a day at summary_at, if anything changed), off.",
    )
    summary_at: TimeOfDay = Field(
        time(8, 0),
        description="summary = daily: local time of the mail, in the organizer's zone (their own attendee "
        "entry's, else [calendar] timezone, else the meeting's).",
    )


class LimitsSection(Strict):
    allow_hourly: bool = Field(
        False, description="Accept FREQ=HOURLY recurrences (still at most 1,000 occurrences a year)."
    )


class PlaceSection(Strict):
    timezone: Zone = Field(description="The place's IANA zone.")
    country: Country | None = Field(None, description="Whose public holidays apply; default: the zone's (zone.tab).")
    city: Line | None = Field(None, description="Label in tables; default: the place's name.")
    hours: Hours | None = Field(None, description="Local working hours; default: [server] working_hours(_by_zone).")
    lunch: Hours | Literal["none"] = Field("12:00-13:00", description='Local lunch break, or "none".')
    weekend: list[Weekday] = Field(default_factory=lambda: ["sat", "sun"], description="Days off every week.")
    holidays: bool = Field(True, description="Look up the country's public holidays.")


class WarningsSection(Strict):
    enabled: bool = Field(True, description="validate warns of holidays, weekends, lunch, hours off work.")
    months: Annotated[int, Field(ge=1, le=60)] = Field(12, description="How far ahead the warnings look.")


class SettingsSpec(Strict):
    calendar: CalendarSection = Field(default_factory=CalendarSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    reminders: RemindersSection = Field(default_factory=RemindersSection)
    smtp: SmtpSection | None = None
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    invitations: InvitationsSection = Field(default_factory=InvitationsSection)
    notify: NotifySection = Field(default_factory=NotifySection)
    server: ServerSection = Field(default_factory=ServerSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    places: dict[PlaceName, PlaceSection] = Field(default_factory=dict, description="Named places ([places.daegu]).")
    calendars: dict[CalendarName, CalendarEntry] = Field(
        default_factory=dict, description="Per calendar ([calendars.sister-cities]): its display name."
    )
    warnings: WarningsSection = Field(default_factory=WarningsSection)
    replies: RepliesSection = Field(default_factory=RepliesSection)
