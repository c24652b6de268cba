"""A real IMAP server for tests: Debian's Dovecot, unprivileged, in a temporary folder with its own config.

It listens on free 127.0.0.1 ports: IMAP (STARTTLS, no login before TLS) and IMAPS, with a
certificate for 127.0.0.1 signed by a throw-away CA (``ca_file``, to trust), and one user whose
mail is a Maildir under the folder.  Run as root (as CI does), the server drops to ``nobody``.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
USER = "replies"
PASSWORD = "s3cret-for-tests"


def available() -> str | None:
    """None if Dovecot and openssl are here, else why not (the reason a test is skipped with)."""
    if not os.access(DOVECOT, os.X_OK):
        return "dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)"
    if not os.access(OPENSSL, os.X_OK):
        return "openssl is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1 and localhost."""
    _run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=meet-sched test CA",
         "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)  # fmt: skip
    _run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", "server.key", "-out", "server.csr", cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _run(OPENSSL, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=folder)  # fmt: skip
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


class Dovecot:
    """``start()`` → running on ``imap_port`` (STARTTLS) and ``imaps_port`` (TLS); ``stop()`` ends it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="meet-sched-dovecot-", dir="/tmp"))
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ca_file, self._cert, self._key = make_certificates(self.folder)
        self.mail = self.folder / "mail"

    @property
    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _config(self, user: str, group: str) -> Path:
        f = self.folder
        (f / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        conf = f / "dovecot.conf"
        conf.write_text(
            textwrap.dedent(
                f"""
                base_dir = {f}/run
                state_dir = {f}/state
                log_path = {f}/dovecot.log
                protocols = imap
                listen = 127.0.0.1
                default_internal_user = {user}
                default_internal_group = {group}
                default_login_user = {user}
                ssl = yes
                ssl_cert = <{self._cert}
                ssl_key = <{self._key}
                ssl_min_protocol = TLSv1.2
                disable_plaintext_auth = yes
                auth_mechanisms = plain login
                mail_location = maildir:{f}/mail/%u
                mail_uid = {user}
                mail_gid = {group}
                first_valid_uid = 0
                passdb {{
                  driver = passwd-file
                  args = {f}/passwd
                }}
                userdb {{
                  driver = static
                  args = uid={user} gid={group} home={f}/home/%u
                }}
                service imap-login {{
                  chroot =
                  inet_listener imap {{
                    address = 127.0.0.1
                    port = {self.imap_port}
                  }}
                  inet_listener imaps {{
                    address = 127.0.0.1
                    port = {self.imaps_port}
                    ssl = yes
                  }}
                }}
                service anvil {{
                  chroot =
                }}
                service stats {{
                  unix_listener stats-writer {{
                    mode = 0666
                  }}
                }}
                protocol imap {{
                  mail_max_userip_connections = 50
                }}
                """
            )
        )
        return conf

    def start(self) -> Dovecot:
        as_root = os.geteuid() == 0  # never run a test server as root: drop to nobody, who owns its folder
        if as_root:
            user, group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        conf = self._config(user, group)
        if as_root:
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.folder, 0o755)
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "stderr.log", "wb"),  # noqa: SIM115 - kept open for the process
            user=user if as_root else None,
            group=group if as_root else None,
            extra_groups=[] if as_root else None,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {(self.folder / 'stderr.log').read_text()}{self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.imaps_port), 0.5),
                socket.create_connection(("127.0.0.1", self.imap_port), 0.5),
            ):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not listen within 15 s: {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- looking at the mailbox (as the user would, through IMAP itself) --------------------

    def append(self, message: bytes, folder: str = "INBOX") -> None:
        """Deliver a message into ``folder``, as an MTA would (IMAP APPEND over TLS)."""
        with self.client() as imap:
            imap.append(folder, "", None, message)

    def count(self, folder: str) -> int:
        with self.client() as imap:
            status, data = imap.select(f'"{folder}"', readonly=True)
            return int(data[0] or 0) if status == "OK" else 0

    def messages(self, folder: str) -> list[bytes]:
        with self.client() as imap:
            status, _ = imap.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, found = imap.uid("search", None, "ALL")
            out = []
            for uid in (found[0] or b"").split():
                _, data = imap.uid("fetch", uid, "(BODY.PEEK[])")
                out += [part[1] for part in data if isinstance(part, tuple)]
            return out

    @contextlib.contextmanager
    def client(self):  # type: ignore[no-untyped-def]
        import imaplib
        import ssl

        context = ssl.create_default_context(cafile=str(self.ca_file))
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context, timeout=10)
        try:
            imap.login(USER, PASSWORD)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()
