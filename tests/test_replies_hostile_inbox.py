"""A reply Maildir others can write: no link below it is followed, reading or writing; only regular files are
read, never past [replies] max_bytes; an entry that cannot be taken is set aside and never blocks the next."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from meet_sched.cli import main
from meet_sched.replies import maildir
from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.intake import Intake, Tally
from meet_sched.replies.maildir import ASIDE, QUARANTINE_HEADER, InboxError, MaildirInbox
from meet_sched.site import Site
from meet_sched.store.attendance import PartStat

from .conftest import SiteDir
from .replies_helpers import FIXTURES, NOW, UID, deliver, make_site

SECRET = b"MEET_SCHED_SMTP_PASSWORD=hunter2-do-not-leak\n"
LI = "li.ming@chengdu.example"


def take(site: Site) -> Tally:
    return MaildirInbox(Intake(site), site.settings.inbox_dir).run_once(lambda: NOW)


def li_ming(site: Site) -> PartStat:
    from meet_sched.store import attendance

    with site.db.transaction() as session:
        return attendance.current(session, UID).partstat(LI)


def everything_under(folder: Path) -> list[bytes]:
    """The bytes of every regular file below ``folder``, links not followed."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in files + dirs:
            path = Path(top) / name
            if path.is_file() and not path.is_symlink():
                found.append(path.read_bytes())
    return found


def first(site: Site, name: str = "1764700000.M0P1.evil") -> Path:
    """A path in new/ that sorts before every delivered message: what stands in front of them."""
    new = site.settings.inbox_dir / "new"
    new.mkdir(parents=True, exist_ok=True)
    return new / name


def test_a_link_in_the_quarantines_tmp_is_never_written_through(site_dir: SiteDir, tmp_path: Path) -> None:
    site = make_site(site_dir)
    (held,) = deliver(site, "spoofed-from.eml")
    victim = tmp_path / "victim.conf"
    victim.write_bytes(b"precious = true\n")
    q_tmp = site.settings.inbox_dir / ".quarantine" / "tmp"
    q_tmp.mkdir(parents=True)
    (q_tmp / held.name.split(":")[0]).symlink_to(victim)  # the name the message would be written under
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    assert victim.read_bytes() == b"precious = true\n"
    (kept,) = (site.settings.inbox_dir / ".quarantine" / "new").iterdir()
    assert kept.read_bytes().startswith(QUARANTINE_HEADER.encode())


def test_a_link_in_new_to_a_file_outside_is_set_aside_unread(site_dir: SiteDir, tmp_path: Path) -> None:
    site = make_site(site_dir)
    secret = tmp_path / "environ"
    secret.write_bytes(SECRET + (FIXTURES / "google-accepted.eml").read_bytes())  # even one that reads as a reply
    first(site).symlink_to(secret)
    deliver(site, "google-accepted.eml")
    tally = take(site)
    assert tally.counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}  # the good one behind it is taken
    assert li_ming(site) is PartStat.ACCEPTED
    assert not any(SECRET in body for body in everything_under(site.root))
    aside = site.settings.inbox_dir / ".quarantine" / ASIDE
    (moved,) = aside.iterdir()
    assert moved.is_symlink() and moved.name == "new-1764700000.M0P1.evil"  # renamed, never read
    assert secret.read_bytes().startswith(SECRET)


def test_folders_planted_under_the_names_messages_are_moved_to_do_not_block_them(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    good, spoofed = deliver(site, "google-accepted.eml", "spoofed-from.eml")
    inbox = site.settings.inbox_dir
    (inbox / ".processed" / "cur" / f"{good.name}:2,S" / "x").mkdir(parents=True)
    (inbox / ".quarantine" / "new" / spoofed.name / "x").mkdir(parents=True)
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
    assert not any((inbox / "new").iterdir())
    assert len(list((inbox / ".processed" / "cur").iterdir())) == 2
    assert len(list((inbox / ".quarantine" / "new").iterdir())) == 2
    assert li_ming(site) is PartStat.ACCEPTED


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "a FIFO, not a message"),
        (lambda p: p.symlink_to("/dev/zero"), "a symbolic link, not a message"),
        (lambda p: p.symlink_to("/proc/self/mem"), "a symbolic link, not a message"),
        (lambda p: p.symlink_to("/proc/self/environ"), "a symbolic link, not a message"),
        (lambda p: p.mkdir(), "a folder, not a message"),
    ],
    ids=["fifo", "dev-zero", "proc-mem", "proc-environ", "folder"],
)
def test_what_is_not_a_message_is_set_aside_and_the_next_taken(
    site_dir: SiteDir, make: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    site = make_site(site_dir)
    assert callable(make)
    make(first(site))
    deliver(site, "google-accepted.eml")
    done: list[Tally] = []
    worker = threading.Thread(target=lambda: done.append(take(site)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the pass hangs on it"
    assert done[0].counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
    assert li_ming(site) is PartStat.ACCEPTED
    assert not any((site.settings.inbox_dir / "new").iterdir())
    assert [p.name for p in (site.settings.inbox_dir / ".quarantine" / ASIDE).iterdir()] == ["new-1764700000.M0P1.evil"]
    (line,) = [r.getMessage() for r in caplog.records if "reply-quarantined" in r.getMessage()]
    assert f"{reason}; set aside unread" in line


@pytest.mark.parametrize(
    "error",
    [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.EIO, "Input/output error")],
    ids=["eacces", "eio"],
)
@pytest.mark.parametrize("where", ["open", "read"])
def test_an_entry_that_cannot_be_read_is_set_aside_and_the_next_taken(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch, error: OSError, where: str
) -> None:
    """A root-owned 0600 file (EACCES at open) or a failing disk (EIO at read); the test may run as root, so the
    error is made where the system would raise it."""
    site = make_site(site_dir)
    first(site).write_bytes((FIXTURES / "outlook-declined.eml").read_bytes())
    deliver(site, "google-accepted.eml")
    opened: dict[int, str] = {}
    real_open, real_read = maildir.open_regular, maildir.read_at_most

    def open_regular(name: str, dir_fd: int | None = None) -> int:
        if where == "open" and name.endswith(".evil"):
            raise error
        fd = real_open(name, dir_fd)
        opened[fd] = name
        return fd

    def read_at_most(fd: int, limit: int) -> bytes:
        if where == "read" and opened[fd].endswith(".evil"):
            raise error
        return real_read(fd, limit)

    monkeypatch.setattr(maildir, "open_regular", open_regular)
    monkeypatch.setattr(maildir, "read_at_most", read_at_most)
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
    assert li_ming(site) is PartStat.ACCEPTED
    assert [p.name for p in (site.settings.inbox_dir / ".quarantine" / ASIDE).iterdir()] == ["new-1764700000.M0P1.evil"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a 0000 file: the test above makes the error where it arises")
def test_a_file_the_service_may_not_read_is_set_aside_and_the_next_taken(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    locked = first(site)
    locked.write_bytes((FIXTURES / "outlook-declined.eml").read_bytes())
    locked.chmod(0)
    deliver(site, "google-accepted.eml")
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
    assert li_ming(site) is PartStat.ACCEPTED
    assert [p.name for p in (site.settings.inbox_dir / ".quarantine" / ASIDE).iterdir()] == ["new-1764700000.M0P1.evil"]


@pytest.mark.parametrize("planted", [".quarantine", ".quarantine/tmp", ".processed", ".processed/cur", "new", "cur"])
def test_a_link_in_place_of_a_folder_stops_the_pass_before_anything_is_taken(
    site_dir: SiteDir, tmp_path: Path, planted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(site_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "1764800000.M0P1.planted").write_bytes(SECRET + (FIXTURES / "google-accepted.eml").read_bytes())
    inbox = site.settings.inbox_dir
    deliver(site, "google-accepted.eml", "spoofed-from.eml")
    link = inbox / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(outside)
    with pytest.raises(InboxError, match="a symbolic link in place of a folder"):
        take(site)
    assert [p.name for p in outside.iterdir()] == ["1764800000.M0P1.planted"]  # nothing written there
    assert li_ming(site) is PartStat.NEEDS_ACTION  # nothing taken from there, nothing recorded
    assert main(["replies", "run", "--root", str(site.root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"meet-sched: {link}: a symbolic link in place of a folder; nothing is written through it"]


def _capped() -> None:
    limit = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("what", ["/dev/zero", "fifo"])
def test_replies_import_reads_regular_files_only(site_dir: SiteDir, tmp_path: Path, what: str) -> None:
    """/dev/zero is never read until memory runs out, a FIFO never waited on (a process: memory is capped)."""
    make_site(site_dir)
    path = what
    if what == "fifo":
        path = str(tmp_path / "reply.eml")
        os.mkfifo(path)
    done = subprocess.run(
        [sys.executable, "-m", "meet_sched", "replies", "import", path, str(FIXTURES / "google-accepted.eml")],
        cwd=site_dir.root,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_capped,
        env={k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")},
    )
    kind = "a character device" if what == "/dev/zero" else "a FIFO"
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == f"{path}: refused: {kind}, not a regular file"
    assert "applied: li.ming@chengdu.example ACCEPTED" in done.stdout  # and the next file is taken
    assert "Traceback" not in done.stderr


def test_replies_import_goes_on_after_a_file_it_cannot_read(
    site_dir: SiteDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(site_dir)
    missing, folder = tmp_path / "gone.eml", tmp_path / "a-folder.eml"
    folder.mkdir()
    good = FIXTURES / "google-accepted.eml"
    assert main(["replies", "import", str(missing), str(folder), str(good), "--root", str(site.root)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == [
        f"{missing}: refused: No such file or directory",
        f"{folder}: refused: a folder, not a regular file",
    ]
    assert li_ming(site) is PartStat.ACCEPTED and "Traceback" not in err
