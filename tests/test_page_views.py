"""The page in ko, zh, vi and en, at phone width, with its week, month and meeting views (README "The agenda page")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import holidays
import pytest
from babel.dates import format_date

from .conftest import SiteDir
from .ics_helpers import parse_both
from .serving import Served
from .test_agenda_page import Cards, browse, squash

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SEOUL = ZoneInfo("Asia/Seoul")
CHUSEOK = date(2027, 9, 15)  # the Korean Chuseok holidays of 2027 are 14-16 September
ODD_UID = "odd/uid?x=1&y=2#frag 회의@test.example"
LANGUAGES = {
    # language: (a translated label the page must show, the holidays package's language for KR)
    "en": ("Next 60 days", "en_US"),
    "ko": ("앞으로 60일", "ko"),
    "zh": ("未来 60 天", "zh_CN"),
    "vi": ("60 ngày tới", "vi"),
}
MEASURE = """
<script>
(() => {
  const vw = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
      wide.push(el.tagName + ' ' + (el.textContent || '').slice(0, 40));
    }
  }
  const sizes = [];
  for (const t of document.querySelectorAll('svg.strip text')) {
    sizes.push(parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  }
  const nowLines = [];
  for (const line of document.querySelectorAll('svg.strip .now line')) {
    const a = line.getBoundingClientRect();
    for (const t of line.closest('svg').querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) nowLines.push(t.textContent);
    }
  }
  const split = [];  // pieces of an address (text between its <wbr> breaks) that a line break cut
  for (const code of document.querySelectorAll('.url code')) {
    for (const node of code.childNodes) {
      if (node.nodeType !== 3) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) split.push(node.textContent);
    }
  }
  const host = window.parent.document;
  const out = host.createElement('pre');
  out.id = 'measure';
  out.textContent = JSON.stringify({vw, scroll: document.documentElement.scrollWidth, wide, sizes, nowLines, split,
    lang: document.documentElement.lang});
  host.body.appendChild(out);
})();
</script>
"""


def inline_css(served: Served, html: str) -> str:
    """The page with the server's own stylesheet inlined: the server refuses it to other origins
    (Cross-Origin-Resource-Policy), and a file:// copy is one."""
    link = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert link, "the page links no stylesheet"
    css = served.client.get(link.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    html = html.replace(link.group(0), f"<style>{css.text}</style>", 1)
    return html.replace("<head>", f'<head><base href="{served.url}/">', 1)


def measure(served: Served, path: str, tmp: Path, width: int, headers: dict[str, str] | None = None) -> dict:
    """The page as the server sends it, laid out by Chromium in a frame ``width`` px wide (a window cannot be
    narrower than 500 px) and measured by a script that only this copy carries (the server's page has
    none, and its CSP would refuse one)."""
    response = served.client.get(path, headers=headers or {})
    assert response.status_code == 200, response.text
    html = inline_css(served, response.text).replace("</body>", MEASURE + "</body>", 1)
    harness = tmp / f"harness-{width}.html"
    harness.write_text(
        f'<!doctype html><html><body style="margin:0"><iframe style="border:0" width="{width}" height="2000" '
        f'srcdoc="{escape(html, quote=True)}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = browse(harness.as_uri(), tmp / f"profile-{width}", "--dump-dom", "--window-size=1000,2100").stdout
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return dict(json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")))


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    site_dir.settings(
        """
        [server]
        listen = "127.0.0.1:0"
        public_calendars = ["sister-cities"]

        [places.bac-ninh]
        timezone = "Asia/Ho_Chi_Minh"
        country = "VN"
        city = "Bac Ninh"
        hours = "08:00-17:00"

        [calendars.sister-cities]
        name = "Sister cities of Daegu"
        """
    )
    site_dir.meeting(
        "working-call.yaml",
        f"""
        uid: working-call
        calendar: sister-cities
        title: Daegu–Chengdu–Bac Ninh working call
        city: Daegu
        timezone: Asia/Seoul
        start: {tomorrow}T10:00
        duration: 1h
        video_url: https://video.test.example/r/working-call
        attendees:
          - {{ name: Kim, email: kim@daegu.example, city: Daegu }}
          - {{ name: Li, email: li@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }}
          - {{ name: Ha, email: ha@bacninh.example, place: bac-ninh }}
        """,
    )
    site_dir.meeting(
        "cancelled.yaml",
        f"""
        uid: cancelled-call
        calendar: sister-cities
        title: Cancelled exchange call
        city: Daegu
        timezone: Asia/Seoul
        start: {tomorrow}T14:00
        duration: 30m
        status: cancelled
        video_url: https://video.test.example/r/cancelled-call
        attendees:
          - {{ name: Li, email: li@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }}
        """,
    )
    site_dir.meeting(
        "chuseok.yaml",
        f"""
        uid: "{ODD_UID}"
        calendar: sister-cities
        title: Festival planning call
        city: Daegu
        timezone: Asia/Seoul
        start: {CHUSEOK}T10:00
        duration: 1h
        attendees:
          - {{ name: Kim, email: kim@daegu.example, city: Daegu }}
          - {{ name: Ha, email: ha@bacninh.example, place: bac-ninh }}
        """,
    )
    site_dir.meeting(
        "internal.yaml",
        f"""
        uid: internal
        calendar: internal
        title: Budget review (internal)
        timezone: Asia/Seoul
        start: {tomorrow}T15:00
        duration: 1h
        """,
    )
    return site_dir


@pytest.fixture
def served(site: SiteDir) -> Iterator[Served]:
    server = Served(site.root)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log


def cards(html: str) -> list[str]:
    page = Cards()
    page.feed(html)
    return [squash(c) for c in page.cards]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_language_at_phone_width(served: Served, tmp_path: Path, language: str) -> None:
    label, _ = LANGUAGES[language]
    found = measure(served, f"/?lang={language}", tmp_path, 360)
    assert found["lang"] == language
    assert found["vw"] == 360
    assert found["scroll"] <= 360 and found["wide"] == [], found["wide"]
    assert found["sizes"] and min(found["sizes"]) >= 11, sorted(found["sizes"])[:5]
    assert found["nowLines"] == []  # the "now" line crosses no label

    html = served.client.get("/", params={"lang": language}).text
    assert label in html
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    assert format_date(tomorrow, "full", locale=language) in html  # dates through Babel


def test_language_from_accept_language_then_the_setting(served: Served) -> None:
    ko = served.client.get("/", headers={"Accept-Language": "fr;q=1, ko-KR;q=0.8, en;q=0.5"})
    zh = served.client.get("/", headers={"Accept-Language": "zh-Hans-CN"})
    en = served.client.get("/", headers={"Accept-Language": "fr"})
    forced = served.client.get("/?lang=vi", headers={"Accept-Language": "ko"})
    for response, language in ((ko, "ko"), (zh, "zh"), (en, "en"), (forced, "vi")):
        assert f'<html lang="{language}">' in response.text
        assert response.headers["content-language"] == language
        assert "Accept-Language" in response.headers["vary"]
    etags = {r.headers["etag"] for r in (ko, zh, en, forced)}
    assert len(etags) == 4  # one per language
    again = served.client.get("/", headers={"Accept-Language": "ko", "If-None-Match": ko.headers["etag"]})
    assert again.status_code == 304
    # the switch: a link to every language on the same page
    for code, name in (("en", "English"), ("zh", "中文"), ("vi", "Tiếng Việt")):
        assert f'href="/?lang={code}">{name}</a>' in ko.text


def test_subscription_links_need_a_public_base_url(served: Served) -> None:
    html = served.client.get("/").text
    assert "[server] base_url" in html
    assert "webcal://" not in html and "calendar.google.com" not in html and "127.0.0.1" not in html


def test_subscription_links_with_a_base_url(site: SiteDir, tmp_path: Path) -> None:
    path = site.root / "config" / "meet-sched.toml"
    path.write_text(
        path.read_text().replace(
            'listen = "127.0.0.1:0"', 'listen = "127.0.0.1:0"\nbase_url = "https://meet.example.org"'
        )
    )
    server = Served(site.root)
    try:
        html = server.client.get("/").text
        found = measure(server, "/?lang=vi", tmp_path, 360)
    finally:
        assert server.stop() == 0, server.log
    page = Cards()
    page.feed(html)
    assert "webcal://meet.example.org/calendars/sister-cities.ics" in page.links
    assert any(link.startswith("https://calendar.google.com/") for link in page.links)
    assert "Sister cities of Daegu" in html  # the calendar's display name
    # at phone width the address wraps, but only between its parts
    assert "https:/<wbr>/<wbr>meet<wbr>.example<wbr>.org/<wbr>calendars/<wbr>sister-cities<wbr>.ics" in html
    assert found["split"] == [] and found["wide"] == [], found


def test_a_cancelled_meeting_is_drawn_as_cancelled(served: Served) -> None:
    html = served.client.get("/").text
    found = [c for c in cards(html) if "Cancelled exchange call" in c]
    assert len(found) == 1
    card = found[0]
    assert "cancelled" in card and "This meeting is cancelled." in card
    assert "Everyone is at work" not in card and "No working hours shared" not in card
    assert "https://video.test.example/r/cancelled-call" not in html
    assert "https://video.test.example/r/working-call" in html


def test_places_give_the_strips_their_hours(served: Served) -> None:
    """[places.bac-ninh] hours = 08:00-17:00: a call at 08:00 there is inside them (the default 09:00-18:00
    would put it outside), and the strip and the footer show those hours."""
    html = served.client.get("/").text
    working = next(c for c in cards(html) if "working call" in c)
    assert "Bac Ninh 08:00 UTC+7" in working
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    days_off = [c for c in ("KR", "CN", "VN") if tomorrow in holidays.country_holidays(c, years=tomorrow.year)]
    if not days_off and tomorrow.weekday() < 5:
        assert "outside working hours" not in working
    page = Cards()
    page.feed(html)
    assert ["Daegu", "Chengdu", "Bac Ninh"] in page.strip_rows
    assert "Bac Ninh 08:00–17:00" in squash(html)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_meeting_page_marks_the_holiday_by_name(served: Served, language: str) -> None:
    _, package_language = LANGUAGES[language]
    table = holidays.country_holidays("KR", years=2027)
    if package_language in table.supported_languages:
        table = holidays.country_holidays("KR", years=2027, language=package_language)
    else:
        table = holidays.country_holidays("KR", years=2027, language="en_US")
    name = table.get_list(CHUSEOK)[0]
    response = served.client.get("/meetings/" + quote(ODD_UID, safe=""), params={"lang": language})
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.text
    (card,) = cards(response.text)
    assert name in card
    assert "Festival planning call" in response.text
    assert "Bac Ninh" in card and "Daegu" in card


def test_the_meeting_page_at_phone_width(served: Served, tmp_path: Path) -> None:
    found = measure(served, "/meetings/" + quote(ODD_UID, safe=""), tmp_path, 360)
    assert found["wide"] == [] and found["scroll"] <= 360
    assert min(found["sizes"]) >= 11


def test_the_meeting_download_holds_that_meeting_only(served: Served) -> None:
    response = served.client.get("/meetings/" + quote(ODD_UID, safe="") + "/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    parsed = parse_both(response.content)
    assert str(parsed.icalendar["METHOD"]) == "PUBLISH"
    events = parsed.icalendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [ODD_UID]
    assert "ATTENDEE" not in events[0]  # public_attendees is off
    assert [e.uid for e in parsed.ical.events] == [ODD_UID]


@pytest.mark.parametrize(
    "path",
    [
        "/meetings/nothing-here",
        "/meetings/internal",  # a meeting of a calendar that is not public
        "/meetings/internal/calendar.ics",
        "/meetings/" + quote(ODD_UID, safe="") + "/other",
        "/meetings/%ff%fe",
        "/week/2027-W60",
        "/week/27-W01",
        "/month/2027-13",
        "/month/2027-04/",
    ],
)
def test_unknown_views_are_a_clean_404(served: Served, path: str) -> None:
    response = served.client.get(path)
    assert response.status_code == 404
    assert response.text == "Not Found\n"


def test_week_and_month_views(served: Served, tmp_path: Path) -> None:
    week = served.client.get("/week/2027-W37", params={"lang": "ko"})
    assert week.status_code == 200
    assert "Festival planning call" in week.text
    assert "추석" in week.text
    assert 'href="/week/2027-W36?lang=ko"' in week.text and 'href="/week/2027-W38?lang=ko"' in week.text
    month = served.client.get("/month/2027-09")
    assert month.status_code == 200
    assert "Festival planning call" in month.text and "Chuseok" in month.text
    assert 'href="/month/2027-08?lang=en"' in month.text and 'href="/month/2027-10?lang=en"' in month.text
    link = "/meetings/" + quote(ODD_UID, safe="")
    assert f'href="{link}?lang=en"' in month.text
    current = served.client.get("/week")
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    if tomorrow.isocalendar()[1] == datetime.now(SEOUL).date().isocalendar()[1]:
        assert "working call" in current.text
    for path in ("/week/2027-W37", "/month/2027-09"):
        found = measure(served, path, tmp_path, 360)
        assert found["wide"] == [] and found["scroll"] <= 360, (path, found["wide"])


def test_the_footer_speaks_the_display_zone(site: SiteDir) -> None:
    """Without [calendar] timezone the site's most common zone (Asia/Seoul here); with it, that zone."""
    first = Served(site.root)
    try:
        default = squash(first.client.get("/").text)
    finally:
        assert first.stop() == 0, first.log
    assert "Times in Asia/Seoul unless a city is named" in default
    assert re.search(r"Updated \w{3}, \w{3} \d{1,2} \d\d:\d\d KST\.", default)

    path = site.root / "config" / "meet-sched.toml"
    path.write_text(path.read_text().replace("[calendar]\n", '[calendar]\ntimezone = "Asia/Ho_Chi_Minh"\n', 1))
    second = Served(site.root)
    try:
        chosen = squash(second.client.get("/", params={"lang": "vi"}).text)
    finally:
        assert second.stop() == 0, second.log
    assert "Giờ theo Asia/Ho_Chi_Minh khi không ghi thành phố" in chosen
    assert re.search(r"Cập nhật .+ \d{1,2}:\d\d UTC\+7\.", chosen)


def test_an_all_day_meeting_is_on_each_of_its_dates_in_the_week_view(site_dir: SiteDir) -> None:
    """A three-day visit kept in Asia/Seoul, shown in New York's week: on 14, 15 and 16 April, all day, not
    on the 13th (where Seoul's midnight falls in New York) and with no time of day."""
    site = site_dir
    site.settings(  # the first line still belongs to the [calendar] table the fixture starts with
        """
        timezone = "America/New_York"

        [server]
        listen = "127.0.0.1:0"
        public_calendars = ["sister-cities"]
        """
    )
    site.meeting(
        "visit.yaml",
        """
        uid: delegation-visit
        calendar: sister-cities
        title: Delegation visit to Chengdu
        timezone: Asia/Seoul
        date: 2027-04-14
        days: 3
        """,
    )
    server = Served(site.root)
    try:
        html = server.client.get("/week/2027-W15").text
    finally:
        assert server.stop() == 0, server.log
    boxes = re.split(r'<li class="day[^"]*"><h2><time datetime="', html)[1:]
    shown = {box[:10]: box for box in boxes}
    assert sorted(shown)[0] == "2027-04-12" and len(shown) == 7, sorted(shown)
    on = sorted(day for day, box in shown.items() if "Delegation visit to Chengdu" in box)
    assert on == ["2027-04-14", "2027-04-15", "2027-04-16"]
    assert all('<span class="when">all day<span class="tz"> </span>' in shown[day] for day in on)
