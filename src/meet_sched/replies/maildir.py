"""Answers from a Maildir (``[replies] maildir``, default ``var/inbox/``), which any MTA, fetchmail or
getmail can deliver into.

Every message in ``new/`` and ``cur/`` is taken in name order (Maildir names start with the
delivery time).  Afterwards it is moved, never deleted: into the Maildir++ folder ``.processed``
(applied, stale or a COUNTER), or ``.quarantine`` with an ``X-Meet-Sched-Quarantine`` header
that says why — both readable with any mail client (``mutt -f var/inbox/.quarantine``).  A message
is read only up to ``[replies] max_bytes`` (plus one byte, to tell that it is bigger).

Others may write into the inbox, so nothing below it is trusted (see :mod:`.files`): no symbolic
link is followed, reading or writing; only regular files are read.  An entry that is not a
regular file (a link, a FIFO, a device, a folder) or cannot be read (no permission, an I/O error)
is renamed, unread, into ``.quarantine/aside/`` with a log line saying why, and the next one is
taken.  A link in place of ``new``, ``cur`` or a folder of ``.processed`` or ``.quarantine`` stops
the pass with an error: nothing is written through it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import MeetSchedError
from ..logfmt import quote as _q
from .apply import ReplyOutcome, Result
from .files import NotRegular, create_new, folder, open_regular, read_at_most
from .intake import Intake, Tally

PROCESSED = ".processed"
QUARANTINE = ".quarantine"
ASIDE = "aside"  # in .quarantine: entries moved unread (not regular files, or unreadable)
QUARANTINE_HEADER = "X-Meet-Sched-Quarantine"
BATCH = 200  # messages taken before the outbox is re-planned and the feeds told, in one pass
CHUNK = 50  # messages recorded in one transaction (then moved)
COPY_CHUNK = 1 << 16  # bytes copied at a time into the quarantine
_UNSAFE = re.compile(r"[^\x20-\x7e]")

log = logging.getLogger("meet_sched.replies")


class InboxError(MeetSchedError):
    def __init__(self, where: Path, reason: str) -> None:
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


def ensure_maildir(path: Path) -> None:
    """``path`` as a Maildir (``tmp``, ``new``, ``cur``), private (0700) when made here."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _folder(path, "") as root:
        for sub in ("tmp", "new", "cur"):
            with _folder(path, sub, root):
                pass


@contextlib.contextmanager
def _folder(where: Path, name: str, dir_fd: int | None = None) -> Iterator[int]:
    """The folder ``where/name`` (made if missing), never through a link (``where`` itself, the inbox the
    settings name, may be one)."""
    try:
        with folder(name or where, dir_fd, create=True, follow=not name) as fd:
            yield fd
    except NotRegular as exc:
        raise InboxError(where / name, f"{exc.kind} in place of a folder; nothing is written through it") from None
    except OSError as exc:
        raise InboxError(where / name, exc.strerror or str(exc)) from None


def header_value(reason: str) -> str:
    """A reason fit for one header line: printable ASCII only (no header injection), bounded."""
    return _UNSAFE.sub("?", reason)[:300]


def _base(name: str) -> str:
    return name.split(":", 1)[0]


@dataclass
class _Read:
    sub: str  # new | cur
    name: str
    fd: int
    data: bytes

    @property
    def label(self) -> str:
        return f"{self.sub}/{self.name}"


class _Folders:
    """The descriptors of one pass: where messages wait, and where they go."""

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _Folders:
        stack, inbox = self._stack, self.inbox
        try:
            inbox.mkdir(mode=0o700, parents=True, exist_ok=True)
            root = stack.enter_context(_folder(inbox, ""))
            self.waiting = {sub: stack.enter_context(_folder(inbox, sub, root)) for sub in ("new", "cur")}
            stack.enter_context(_folder(inbox, "tmp", root))
        except BaseException:
            stack.close()
            raise
        self._root = root
        self._ready = False
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def ready(self) -> None:
        """Open (make) ``.processed`` and ``.quarantine`` before anything is taken: a link in place of one
        of their folders stops the pass before a message is recorded."""
        if self._ready:
            return
        stack, inbox = self._stack, self.inbox
        processed = stack.enter_context(_folder(inbox, PROCESSED, self._root))
        for sub in ("tmp", "new"):
            stack.enter_context(_folder(inbox / PROCESSED, sub, processed))
        self.processed = stack.enter_context(_folder(inbox / PROCESSED, "cur", processed))
        quarantine = stack.enter_context(_folder(inbox, QUARANTINE, self._root))
        self.q_tmp = stack.enter_context(_folder(inbox / QUARANTINE, "tmp", quarantine))
        self.q_new = stack.enter_context(_folder(inbox / QUARANTINE, "new", quarantine))
        stack.enter_context(_folder(inbox / QUARANTINE, "cur", quarantine))
        self.aside = stack.enter_context(_folder(inbox / QUARANTINE, ASIDE, quarantine))
        self._ready = True

    def names(self) -> list[tuple[str, str]]:
        """(``new`` or ``cur``, name) of every waiting entry, oldest (by name) first."""
        found: list[tuple[str, str]] = []
        for sub, fd in self.waiting.items():
            with os.scandir(fd) as entries:
                found += [(sub, e.name) for e in entries if not e.name.startswith(".")]
        return sorted(found, key=lambda x: (x[1], x[0]))


class MaildirInbox:
    """One pass over a Maildir: take every waiting message, move it, settle the batch."""

    def __init__(self, intake: Intake, path: Path) -> None:
        self.intake = intake
        self.path = path
        self._stuck: set[str] = set()  # entries that could be neither read nor moved aside: said once

    def _read(self, folders: _Folders, sub: str, name: str) -> _Read | Result | None:
        """The entry's first ``max_bytes`` + 1 bytes, or — when it cannot be read — the reason it was set
        aside; None: gone meanwhile."""
        dir_fd = folders.waiting[sub]
        try:
            fd = open_regular(name, dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._set_aside(folders, sub, name, _why(exc))
        try:
            return _Read(sub, name, fd, read_at_most(fd, self.intake.max_bytes + 1))
        except OSError as exc:
            os.close(fd)
            return self._set_aside(folders, sub, name, _why(exc))

    def _set_aside(self, folders: _Folders, sub: str, name: str, reason: str) -> Result | None:
        """Rename the entry, unread, into ``.quarantine/aside``; None if even that fails (left, said once)."""
        try:
            _rename(name, folders.waiting[sub], f"{sub}-{name}", "", folders.aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if f"{sub}/{name}" not in self._stuck:
                self._stuck.add(f"{sub}/{name}")
                log.error(
                    "event=reply-stuck message=%s reason=%s error=%s", _q(f"{sub}/{name}"), _q(reason), _q(_why(exc))
                )
            return None
        return self.intake.refuse(f"{reason}; set aside unread", name=f"{sub}/{name}")

    def _move(self, folders: _Folders, item: _Read, result: Result) -> bool:
        try:
            if result.outcome is ReplyOutcome.QUARANTINED:
                self._quarantine(folders, item, result.reason or "refused")
            else:
                _rename(item.name, folders.waiting[item.sub], _base(item.name), ":2,S", folders.processed)  # S: read
        except FileNotFoundError:
            return False  # another process took it meanwhile
        return True

    def _quarantine(self, folders: _Folders, item: _Read, reason: str) -> None:
        """The message, with a first header line saying why, into ``.quarantine/new`` (unread: to look at)."""
        name = _base(item.name)
        tmp = f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        out = create_new(tmp, folders.q_tmp)
        try:
            _write(out, f"{QUARANTINE_HEADER}: {header_value(reason)}\r\n".encode("ascii") + item.data)
            while chunk := os.read(item.fd, COPY_CHUNK):
                _write(out, chunk)
            os.fsync(out)
        except BaseException:
            os.close(out)
            os.unlink(tmp, dir_fd=folders.q_tmp)
            raise
        os.close(out)
        _rename(tmp, folders.q_tmp, name, "", folders.q_new)
        ours = os.fstat(item.fd)
        now = os.stat(item.name, dir_fd=folders.waiting[item.sub], follow_symlinks=False)
        if (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino):  # still the file that was read
            os.unlink(item.name, dir_fd=folders.waiting[item.sub])

    def run_once(self, clock: Callable[[], datetime]) -> Tally:
        """Every waiting message, :data:`CHUNK` to a transaction (then moved), the outbox re-planned and
        the listeners told after every :data:`BATCH`; returns what was done."""
        total = Tally()
        batch = Tally()
        with _Folders(self.path) as folders:
            names = folders.names()
            if names:
                folders.ready()
            for start in range(0, len(names), CHUNK):
                items: list[_Read] = []
                try:
                    for sub, name in names[start : start + CHUNK]:
                        found = self._read(folders, sub, name)
                        if isinstance(found, _Read):
                            items.append(found)
                        elif found is not None:
                            batch.add(found)
                            total.add(found)
                    results = self.intake.take_many([(i.label, i.data, False) for i in items], clock())
                    for item, result in zip(items, results, strict=True):
                        if self._move(folders, item, result):
                            batch.add(result)
                            total.add(result)
                finally:
                    for item in items:
                        os.close(item.fd)
                if sum(batch.counts.values()) >= BATCH:
                    self.intake.settle(batch, clock())
                    batch = Tally()
        self.intake.settle(batch, clock())
        return total


def _rename(name: str, src_fd: int, base: str, flags: str, dst_fd: int) -> None:
    """Rename ``name`` into the folder ``dst_fd`` as ``base`` + ``flags`` (a link there is replaced, never
    followed); when a folder stands under that name, as ``base``.<random> + ``flags``."""
    try:
        os.rename(name, base + flags, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    except OSError as exc:
        if exc.errno not in (errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise
        os.rename(name, f"{base}.{secrets.token_hex(4)}{flags}", src_dir_fd=src_fd, dst_dir_fd=dst_fd)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _why(exc: OSError) -> str:
    if isinstance(exc, NotRegular):
        return exc.kind + ", not a message"
    return f"cannot be read: {exc.strerror or type(exc).__name__}"
