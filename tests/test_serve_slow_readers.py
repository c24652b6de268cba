"""A real `serve` against a client that asks for a large feed and reads nothing: cut off after WRITE_TIMEOUT."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from meet_sched.web.protocol import WRITE_TIMEOUT

from .conftest import SiteDir
from .serving import Served

pytestmark = pytest.mark.slow

SLACK = 5.0  # on top of WRITE_TIMEOUT, for a loaded 2-core machine
FILES, PER_FILE = 10, 30  # 300 meetings, under MAX_MEETINGS_PER_FILE and MAX_FILE_BYTES per file
DESCRIPTION = ("대구 국제교류 회의 안건 " * 700)[:9000]  # 3 octets a character: ~27 KB a meeting
STALLED = "event=write-stalled"


def meetings(file: int) -> str:
    entries = []
    for n in range(PER_FILE):
        entries.append(
            f"""
  - uid: meeting-{file}-{n}
    calendar: city-hall
    title: Working call {file}-{n}
    timezone: Asia/Seoul
    start: 2027-03-{1 + n % 28:02d}T10:00
    duration: 1h
    description: {DESCRIPTION} {file}-{n}
"""
        )
    return "meetings:" + "".join(entries)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    site = SiteDir(tmp_path_factory.mktemp("slow-readers") / "site")
    site.settings('[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["city-hall"]\n')
    for file in range(FILES):
        site.meeting(f"calls-{file}.yaml", meetings(file))
    server = Served(site.root, timeout=120)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log


def kernel_send_buffer() -> int:
    """The most a socket's send buffer grows to (Linux: the last of net.ipv4.tcp_wmem), 4 MB by default."""
    try:
        return int(open("/proc/sys/net/ipv4/tcp_wmem", encoding="ascii").read().split()[-1])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


def stalled_client(served: Served) -> socket.socket:
    """Asks for the feed with a tiny receive window, then reads nothing."""
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window it advertises
    sock.connect((host, int(port)))
    sock.sendall(b"GET /calendars/city-hall.ics HTTP/1.1\r\nHost: localhost\r\n\r\n")  # keep-alive
    return sock


def read_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_client_that_reads_nothing_is_cut_off_and_the_others_are_served(served: Served) -> None:
    feed = httpx.get(served.url + "/calendars/city-hall.ics", timeout=60)  # rendered once, from memory after
    assert feed.status_code == 200
    size = len(feed.content)
    assert size > 1.5 * kernel_send_buffer(), f"{size} bytes: the kernel alone could hold all of it"

    stalled = [stalled_client(served) for _ in range(3)]
    try:
        started = time.monotonic()
        for _ in range(2):  # meanwhile everybody else is served
            assert httpx.get(served.url + "/healthz", timeout=SLACK).status_code == 200
            whole = httpx.get(served.url + "/calendars/city-hall.ics", timeout=SLACK + 10)
            assert whole.status_code == 200 and whole.content == feed.content
        time.sleep(max(0.0, started + WRITE_TIMEOUT - 2 - time.monotonic()))
        assert STALLED not in served.log, "cut off before WRITE_TIMEOUT"
        while served.log.count(STALLED) < len(stalled):
            assert time.monotonic() - started < WRITE_TIMEOUT + SLACK, served.log[-2000:]
            time.sleep(0.2)
        for sock in stalled:  # what the kernels held, then the end: the answer never finished
            got = read_all(sock, SLACK)
            assert len(got) < size, len(got)
    finally:
        for sock in stalled:
            sock.close()
    assert httpx.get(served.url + "/healthz", timeout=10).status_code == 200


def test_a_slow_reader_that_keeps_reading_gets_the_whole_feed(served: Served) -> None:
    """Not a stall: a client taking a little more than WRITE_TIMEOUT to read the feed, steadily."""
    size = len(httpx.get(served.url + "/calendars/city-hall.ics", timeout=60).content)
    stalls = served.log.count(STALLED)
    sock = stalled_client(served)
    try:
        sock.settimeout(SLACK)
        data = b""
        started = time.monotonic()
        pace = (WRITE_TIMEOUT + 3) / size  # seconds per byte: the whole feed in a little more than WRITE_TIMEOUT
        head = b""
        while not head or len(data) - len(head) < size:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(data)} bytes of a {size}-byte feed"
            data += chunk
            if not head and b"\r\n\r\n" in data:
                head = data[: data.index(b"\r\n\r\n") + 4]
            time.sleep(max(0.0, started + pace * len(data) - time.monotonic()))
        assert time.monotonic() - started > WRITE_TIMEOUT
        assert head.startswith(b"HTTP/1.1 200 ") and f"content-length: {size}\r\n".encode() in head.lower()
        assert served.log.count(STALLED) == stalls
    finally:
        sock.close()
