"""`meet-sched send-test`: one message through the configured transport, and the server's answer in plain words
(refused, authentication, TLS), never a traceback and never the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SiteDir
from .mail_helpers import smtp_settings
from .smtp_sink import SmtpSink, self_signed, server_context

SECRET = "s3cret-Pa55word"


def test_sends_through_smtp_and_prints_the_answer(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    result = site_dir.run("send-test", "jihyun.kim@daegu.example")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"sent to jihyun.kim@daegu.example via 127.0.0.1:{smtp_server.port} (no TLS): 2.0.0 OK queued as 1"
    )
    (got,) = smtp_server.received
    assert got.rcpt_tos == ("jihyun.kim@daegu.example",)
    assert str(got.message["Subject"]) == "Test message from Test"


def test_without_smtp_it_goes_to_the_maildir(site_dir: SiteDir) -> None:
    result = site_dir.run("send-test", "jihyun.kim@daegu.example", check=True)
    assert result.stdout.startswith("sent to jihyun.kim@daegu.example via Maildir var/mail: delivered to var/mail/new/")
    (path,) = (site_dir.root / "var" / "mail" / "new").iterdir()
    assert b"To: jihyun.kim@daegu.example" in path.read_bytes()


def test_a_refused_connection_is_said_plainly(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    smtp_server.stop()
    result = site_dir.run("send-test", "jihyun.kim@daegu.example")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"meet-sched: not sent to jihyun.kim@daegu.example: 127.0.0.1:{smtp_server.port} (no TLS): "
        "cannot connect: Connection refused"
    )


def test_a_refused_recipient_shows_the_servers_reply(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    smtp_server.replies["nobody@daegu.example"] = "550 5.1.1 <nobody@daegu.example>: Recipient address rejected"
    result = site_dir.run("send-test", "nobody@daegu.example")
    assert result.returncode == 1
    assert "recipient nobody@daegu.example refused: 550 5.1.1" in result.stderr
    assert "Traceback" not in result.stderr


# AUTH on a plain connection keeps this test about AUTH; TLS has its own test below.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_authentication_failure_never_shows_the_password(site_dir: SiteDir) -> None:
    sink = SmtpSink(credentials=("reminders@daegu.example", "the-right-one")).start()
    try:
        site_dir.settings(
            smtp_settings(sink).replace('security = "none"', 'security = "none"\nusername = "reminders@daegu.example"')
        )
        result = site_dir.run("send-test", "kim@daegu.example", env={"MEET_SCHED_SMTP_PASSWORD": SECRET})
        assert result.returncode == 1
        assert "authentication failed: 535" in result.stderr
        assert SECRET not in result.stderr + result.stdout
        assert set(sink.auth_attempts) == {"reminders@daegu.example"} and sink.received == []

        ok = site_dir.run("send-test", "kim@daegu.example", env={"MEET_SCHED_SMTP_PASSWORD": "the-right-one"})
        assert ok.returncode == 0, ok.stderr
        assert len(sink.received) == 1

        missing = site_dir.run("send-test", "kim@daegu.example")
        assert missing.returncode == 1
        assert "[smtp] username is set but the environment variable MEET_SCHED_SMTP_PASSWORD is not" in missing.stderr
    finally:
        sink.stop()


def test_the_password_is_never_read_from_the_file(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(
        smtp_settings(smtp_server).replace('security = "none"', f'security = "none"\npassword = "{SECRET}"')
    )
    result = site_dir.run("send-test", "kim@daegu.example")
    assert result.returncode == 1
    assert "password: unknown key" in result.stderr
    assert SECRET not in result.stderr


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def test_tls_certificates_are_verified(site_dir: SiteDir, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    sink = SmtpSink(tls_context=server_context(cert, key)).start()
    try:
        settings = smtp_settings(sink).replace('security = "none"', 'security = "starttls"')
        site_dir.settings(settings)
        result = site_dir.run("send-test", "kim@daegu.example")
        assert result.returncode == 1
        assert (
            f"127.0.0.1:{sink.port} (STARTTLS): TLS certificate not trusted: self-signed certificate" in result.stderr
        )
        assert sink.received == []

        # Trusting that one certificate (a private CA) makes it work, still verified.
        (site_dir.root / "config" / "ca.pem").write_bytes(cert.read_bytes())
        site_dir.settings(settings.replace('security = "starttls"', 'security = "starttls"\nca_file = "config/ca.pem"'))
        ok = site_dir.run("send-test", "kim@daegu.example")
        assert ok.returncode == 0, ok.stderr
        assert "(STARTTLS)" in ok.stdout and len(sink.received) == 1
    finally:
        sink.stop()


def test_starttls_required_but_not_offered(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server).replace('security = "none"', 'security = "starttls"'))
    result = site_dir.run("send-test", "kim@daegu.example")
    assert result.returncode == 1
    assert "STARTTLS" in result.stderr and "not supported" in result.stderr
    assert smtp_server.received == []


def test_a_bad_address_is_refused_before_anything_is_sent(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    result = site_dir.run("send-test", "kim@daegu.example, evil@attacker.example")
    assert result.returncode == 1
    assert "is not an email address this service can send to" in result.stderr
    assert smtp_server.received == []


def test_implicit_tls_with_an_untrusted_certificate_says_so(site_dir: SiteDir, tls_files: tuple[Path, Path]) -> None:
    """security = "tls": the handshake fails inside connect(), and is reported as STARTTLS's is."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    cert, key = tls_files
    unstarted = SmtpSink()  # only for its free port and the settings pointing there
    port = unstarted.port
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, ssl_context=server_context(cert, key))
    controller.start()
    try:
        settings = smtp_settings(unstarted).replace('security = "none"', 'security = "tls"')
        site_dir.settings(settings)
        result = site_dir.run("send-test", "kim@daegu.example")
        assert result.returncode == 1
        assert f"127.0.0.1:{port} (TLS): TLS certificate not trusted: self-signed certificate" in result.stderr
        assert "Operation not permitted" not in result.stderr and "Traceback" not in result.stderr
    finally:
        controller.stop()
