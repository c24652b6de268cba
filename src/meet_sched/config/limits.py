"""Every bound on what a config file may hold, by name: the README's "Limits" table lists them.

A config file is input: a careless or hostile one must end in a ``path:line: field: message``
problem in bounded time and memory, never in a traceback or a 300 MB email.
"""

from __future__ import annotations

from datetime import timedelta

# Defined with the model, listed here with the others.
from ..durations import MAX_DURATION as MAX_DURATION  # anything parse_duration reads: 100 years
from ..model import UID_MAX_LENGTH as UID_MAX_LENGTH  # a UID, as wide as the database columns

# -- files ----------------------------------------------------------------------------------
MAX_FILE_BYTES = 1024 * 1024  # one config file (meeting or settings), checked from stat() before reading
MAX_MEETING_FILES = 10_000  # files under config/meetings/
MAX_MEETINGS_PER_FILE = 500  # entries of a `meetings:` list
MAX_NESTING = 20  # lists and tables inside each other; a meeting file needs 6
MAX_SCANNED_ENTRIES = 100_000  # files under config/ that `validate` looks at for skipped ones
MAX_YAML_NODES = 200_000  # values of one YAML document, aliases expanded (a 1 MiB file holds fewer)

# -- texts (characters) ------------------------------------------------------------------------
MAX_LINE_CHARS = 500  # a title, name, location, city or UID line
MAX_DESCRIPTION_CHARS = 10_000  # a meeting's description
MAX_URL_CHARS = 2_000  # video_url, base_url

# -- lists -------------------------------------------------------------------------------------
MAX_ATTENDEES = 500  # attendees of one meeting
MAX_REMINDERS = 20  # reminder offsets of a meeting, an attendee or [reminders] default
MAX_EXDATES = 1_000  # skipped occurrences of one meeting
MAX_RDATES = 1_000  # extra occurrences of one meeting
MAX_OVERRIDES = 1_000  # single occurrences of one meeting changed or cancelled
MAX_OVERRIDE_SUGGESTIONS = 3  # nearest occurrences named when an override's occurrence is not one
MAX_SKIP_COUNTRIES = 50  # countries listed in one meeting's `skip_holidays`

# -- durations, each kind its own maximum ----------------------------------------------------
MAX_MEETING_DURATION = timedelta(days=31)  # a meeting's `duration`
MAX_ALL_DAY_DAYS = 31  # the calendar dates one all-day meeting covers (`days`, or `date` to `end_date`)
MAX_REMINDER_OFFSET = timedelta(days=31)  # how long before a start a reminder goes out
MAX_HORIZON = timedelta(days=366)  # [reminders] horizon
MAX_LEASE = timedelta(hours=1)  # [delivery] lease
MAX_RETRY_BASE = timedelta(hours=1)  # [delivery] retry_base
MAX_RETRY_MAX = timedelta(days=1)  # [delivery] retry_max
MAX_GIVE_UP_AFTER = timedelta(days=31)  # [delivery] give_up_after
MAX_UPDATE_QUIET = timedelta(hours=1)  # [delivery] update_quiet: how long an update waits for more edits
MAX_SMTP_TIMEOUT = timedelta(minutes=10)  # [smtp] timeout
MAX_REFRESH_INTERVAL = timedelta(days=7)  # [calendar] refresh_interval
MAX_IMAP_POLL = timedelta(hours=1)  # [replies.imap] poll

# -- replies (iMIP answers coming in) --------------------------------------------------------
MAX_REPLY_BYTES = 1_000_000  # default [replies] max_bytes: a bigger message is quarantined unread
MAX_REPLY_BYTES_LIMIT = 25_000_000  # the most [replies] max_bytes may say
