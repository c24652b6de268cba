"""Files in a folder others can write (the reply Maildir): nothing here follows a symbolic link.

A folder is opened with ``O_DIRECTORY|O_NOFOLLOW`` and everything below it relative to that
descriptor, so a link planted anywhere below the inbox (in ``new/``, ``tmp/``, the quarantine or
in place of one of them) is never followed, reading or writing.  A message is read only from a
regular file (``fstat`` on the open descriptor), opened ``O_NONBLOCK`` (a FIFO never waits) and
never past the limit it is given, whatever ``st_size`` says (``/dev/zero``, a growing file).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
READ_CHUNK = 1 << 16  # bytes asked of the kernel in one read


class NotRegular(OSError):
    """An entry that is not a regular file (a link, a FIFO, a device, a folder): never read."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}, not a regular file")


def kind(mode: int) -> str:
    """What an ``st_mode`` is, in words."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_folder(
    name: str | os.PathLike[str], dir_fd: int | None = None, *, create: bool = False, follow: bool = False
) -> int:
    """A descriptor of the folder ``name`` (relative to ``dir_fd``), made (0700) if ``create``; a symbolic
    link in its place raises :class:`NotRegular` rather than being followed (unless ``follow``)."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=dir_fd)
    try:
        return os.open(name, _DIR_FLAGS & ~os.O_NOFOLLOW if follow else _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            found = os.lstat(name, dir_fd=dir_fd)
            raise NotRegular(kind(found.st_mode).replace("not a regular file", "not a folder")) from None
        raise


@contextlib.contextmanager
def folder(
    name: str | os.PathLike[str], dir_fd: int | None = None, *, create: bool = False, follow: bool = False
) -> Iterator[int]:
    fd = open_folder(name, dir_fd, create=create, follow=follow)
    try:
        yield fd
    finally:
        os.close(fd)


def open_regular(name: str | os.PathLike[str], dir_fd: int | None = None, *, follow: bool = False) -> int:
    """A read-only descriptor of the regular file ``name``; :class:`NotRegular` for anything else (a link
    unless ``follow``, a FIFO, a device, a folder), which is never read nor waited on."""
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=follow)
    if not stat.S_ISREG(before.st_mode):  # known before it is opened: a device is never opened
        raise NotRegular(kind(before.st_mode))
    flags = _READ_FLAGS & ~os.O_NOFOLLOW if follow else _READ_FLAGS
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # replaced by a link or a socket meanwhile
            raise NotRegular("replaced while being opened") from None
        raise
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode) or (found.st_dev, found.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise NotRegular(kind(found.st_mode) if not stat.S_ISREG(found.st_mode) else "replaced while being opened")
    return fd


def read_at_most(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd`` (fewer at its end), never trusting its size."""
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_file(path: str | os.PathLike[str], limit: int, *, follow: bool = True) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (``replies import``: the operator named it)."""
    fd = open_regular(path, follow=follow)
    try:
        return read_at_most(fd, limit)
    finally:
        os.close(fd)


def create_new(name: str, dir_fd: int) -> int:
    """A new file ``name`` (0600) in the folder ``dir_fd``: never an existing file, never through a link."""
    return os.open(name, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)
