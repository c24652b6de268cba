"""What a hostile client gets from a real `serve`: short plain 4xx answers, never a file, a trace or a hint."""

from __future__ import annotations

import re
import secrets
import select
from collections.abc import Iterator

import httpx
import pytest

from .conftest import SiteDir
from .serving import Served, serving
from .test_serve_feeds import make_site, tokens

pytestmark = pytest.mark.slow

SECRET_MARKERS = (b"Traceback", b'File "', b"[server]", b"public_calendars", b"meet_sched", b"sqlite", b"{%")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteDir:
    return make_site(SiteDir(tmp_path_factory.mktemp("security") / "site"))


@pytest.fixture(scope="module")
def served(site: SiteDir) -> Iterator[Served]:
    with serving(site.root, no_traceback=True) as server:
        yield server


def raw(served: Served, request: bytes) -> tuple[int, bytes, bytes]:
    """Send bytes as they are (no client-side normalisation of ``..``); return status, head, body.

    The request goes out in small pieces and sending stops as soon as the server answers, the
    way a browser behaves, so that an early 4xx is read rather than lost to a connection reset.
    """
    with served.connect(10) as sock:
        for i in range(0, len(request), 4096):
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(request[i : i + 4096])
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def get(target: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def clean(body: bytes) -> bool:
    return not any(marker.lower() in body.lower() for marker in SECRET_MARKERS)


@pytest.mark.parametrize(
    "target",
    [
        b"/calendars/../config/meet-sched.toml",
        b"/calendars/..%2f..%2fconfig%2fmeet-sched.toml",
        b"/calendars/%2e%2e%2fconfig%2fmeet-sched.toml.ics",
        b"/calendars/..%5c..%5cconfig%5cmeet-sched.toml.ics",
        b"/calendars/city-hall.ics%00.toml",
        b"/calendars/city-hall%00.ics",
        b"/feeds/../calendars/board.ics",
        b"/static/../templates/agenda.html",
        b"/static/%2e%2e/templates/agenda.html",
        b"/static/..%2f..%2fstore%2fdb.py",
        b"/static//etc/passwd",
        b"//etc/passwd",
        b"/../../../../etc/passwd",
        b"/calendars/%ff%fe.ics",
    ],
)
def test_path_traversal_is_a_plain_404(served: Served, target: bytes) -> None:
    status, _, body = raw(served, get(target))
    assert status == 404
    assert body == b"Not Found\n"


def test_the_static_files_are_there_for_comparison(served: Served) -> None:
    status, head, body = raw(served, get(b"/static/style.css"))
    assert status == 200 and b"text/css" in head and b".strip" in body


def refused(served: Served, request: bytes) -> None:
    """A 4xx, or (when the client was still sending as the server hung up) a reset after the logged refusal."""
    try:
        status, _, body = raw(served, request)
    except ConnectionResetError:
        served.wait_for_log(re.compile(r"Invalid HTTP request received"), timeout=10)
        return
    assert status in (400, 414, 431)
    assert clean(body)


@pytest.mark.parametrize("length", [3000, 20_000, 200_000])
def test_overlong_targets_are_refused(served: Served, length: int) -> None:
    refused(served, get(b"/calendars/" + b"a" * length + b".ics"))


def test_a_long_target_gets_414(served: Served) -> None:
    status, _, body = raw(served, get(b"/calendars/" + b"a" * 3000 + b".ics"))
    assert status == 414
    assert body == b"URI Too Long\n"


def test_overlong_headers_are_refused(served: Served) -> None:
    refused(
        served, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Junk: " + b"j" * 200_000 + b"\r\nConnection: close\r\n\r\n"
    )


def test_garbage_is_a_400(served: Served) -> None:
    status, _, body = raw(served, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
    assert status == 400
    assert clean(body)


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "REPORT", "MKCOL"]
)
@pytest.mark.parametrize("path", ["/calendars/city-hall.ics", "/feeds/x.ics", "/", "/healthz", "/nothing"])
def test_other_methods_are_405_with_allow(served: Served, method: str, path: str) -> None:
    r = served.client.request(method, path, content=b"<x/>" if method in ("POST", "PUT", "PROPFIND") else None)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert r.text == "Method Not Allowed\n"


def test_wrong_tokens_are_404_like_a_missing_calendar(site: SiteDir, served: Served) -> None:
    real = tokens(site, "rotate", "mira.ahn@test.example")["mira.ahn@test.example"]
    assert served.client.get(f"/feeds/{real}.ics").status_code == 200
    wrong = [
        secrets.token_urlsafe(32),
        real[:-1] + ("A" if real[-1] != "A" else "B"),  # one character off
        real.upper() if real.upper() != real else real.lower(),
        real + "A",
        real[:20],
        "",
        "%00" + real,
        "..%2f" + real,
        "ÄÖÜ" * 15,
        real + ".ics",
    ]
    missing = served.client.get("/calendars/no-such-calendar.ics")
    assert missing.status_code == 404
    for token in wrong:
        r = served.client.get(f"/feeds/{token}.ics")
        assert r.status_code == 404, token
        assert r.content == missing.content
        assert {k: v for k, v in r.headers.items() if k != "date"} == {
            k: v for k, v in missing.headers.items() if k != "date"
        }


def test_the_page_carries_security_headers(served: Served) -> None:
    r = served.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "server" not in r.headers
    assert b"<script" not in r.content.lower()
    assert b"board" not in r.content.lower()  # a calendar that is not public stays off the page


def test_errors_leak_nothing(served: Served) -> None:
    for r in (
        served.client.get("/nothing"),
        served.client.get("/calendars/"),
        served.client.get("/feeds/"),
        served.client.get("/calendars/city-hall.ics", headers={"If-Modified-Since": "\x7f" * 50}),
        served.client.get("/calendars/city-hall.ics", headers={"Accept-Encoding": "gzip;q=nonsense"}),
        served.client.get("/?" + "q=1&" * 100),
    ):
        assert r.status_code in (200, 404), r
        assert clean(r.content) or r.headers["content-type"].startswith(("text/calendar", "text/html"))
    assert httpx.get(served.url + "/healthz").status_code == 200
