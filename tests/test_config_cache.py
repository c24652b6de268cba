"""The cache of validated files in var/ (a speed-up of sync): it never changes what the config means."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meet_sched.config import Config, load_config
from meet_sched.config.cache import code_files
from meet_sched.config.loader import CACHE_FILE
from meet_sched.errors import ConfigError

from .conftest import SiteDir

CALL = "title: {title}\ntimezone: Asia/Seoul\nstart: 2026-12-10T10:00\nduration: 1h\n"
TOML_CALL = 'uid = "{uid}"\ntitle = "{title}"\ntimezone = "Asia/Seoul"\nstart = 2026-12-10T10:00:00\nduration = "1h"\n'


def _load(site: SiteDir, cache: bool = True) -> Config:
    return load_config(site.root, environ={}, cache=cache)


def _same(a: Config, b: Config) -> None:
    assert [m.to_data() for m in a.meetings] == [m.to_data() for m in b.meetings]
    assert [m.source for m in a.meetings] == [m.source for m in b.meetings]
    assert [m.content_hash() for m in a.meetings] == [m.content_hash() for m in b.meetings]
    assert a.files == b.files


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    for n in range(5):
        site_dir.meeting(f"group/m{n}.yaml", CALL.format(title=f"Call {n}"))
    site_dir.meeting("group/t.toml", TOML_CALL.format(uid="toml-call", title="TOML call"))
    site_dir.meeting("list.yaml", "meetings:\n  - " + CALL.format(title="One").replace("\n", "\n    ").rstrip())
    return site_dir


def test_a_warm_cache_gives_exactly_what_reading_the_files_gives(site: SiteDir) -> None:
    fresh = _load(site, cache=False)
    assert not (site.root / "var" / CACHE_FILE).exists()
    cold = _load(site)
    cache = site.root / "var" / CACHE_FILE
    assert cache.exists()
    stamp = cache.stat().st_mtime_ns
    warm = _load(site)
    _same(fresh, cold)
    _same(fresh, warm)
    assert cache.stat().st_mtime_ns == stamp  # nothing new: not rewritten
    assert len(json.loads(cache.read_bytes())["files"]) == 7


def test_a_changed_file_is_read_and_checked_again(site: SiteDir) -> None:
    _load(site)
    site.meeting("group/m1.yaml", CALL.format(title="Call 1").replace("1h", "1 hour"))
    with pytest.raises(ConfigError) as caught:
        _load(site)
    assert [str(p) for p in caught.value.problems] == [
        "config/meetings/group/m1.yaml:4: duration: '1 hour' is not a duration (try 90m, 1h30m, 45s, 1d or PT1H30M)"
    ]
    site.meeting("group/m1.yaml", CALL.format(title="Renamed"))
    titles = [m.title for m in _load(site).meetings]
    assert "Renamed" in titles and "Call 1" not in titles
    _same(_load(site, cache=False), _load(site))


def test_a_duplicate_uid_against_a_cached_file_is_reported_as_without_cache(site: SiteDir) -> None:
    _load(site)  # caches t.toml, whose UID is toml-call
    site.meeting("group/a-first.yaml", "uid: toml-call\n" + CALL.format(title="Clash"))
    messages = []
    for cache in (False, True):
        with pytest.raises(ConfigError) as caught:
            _load(site, cache=cache)
        messages.append([str(p) for p in caught.value.problems])
    assert (
        messages[0]
        == messages[1]
        == [
            "config/meetings/group/t.toml:1: uid: UID 'toml-call@test.example' is also used by "
            "config/meetings/group/a-first.yaml:1"
        ]
    )


def test_changed_settings_are_applied_to_unchanged_files(site: SiteDir) -> None:
    assert {m.reminders for m in _load(site).meetings} != {()}
    site.settings(
        """
        [reminders]
        default = ["2h"]
        """
    )
    reminders = {tuple(int(r.total_seconds()) for r in m.reminders) for m in _load(site).meetings}
    assert reminders == {(7200,)}


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not json", b"[]", b'{"key": 1}', b'{"key": "x", "files": []}', None],
    ids=["empty", "text", "list", "bad-key", "bad-files", "wrong-entries"],
)
def test_a_damaged_cache_is_ignored_and_replaced(site: SiteDir, garbage: bytes | None) -> None:
    fresh = _load(site, cache=False)
    cache = site.root / "var" / CACHE_FILE
    if garbage is None:  # the right key, but entries that are not meetings
        _load(site)
        stored = json.loads(cache.read_bytes())
        for entry in stored["files"].values():
            entry["meetings"] = [{"data": {"uid": "x"}}]
        cache.write_text(json.dumps(stored), encoding="utf-8")
    else:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(garbage)
    _same(fresh, _load(site))
    _same(fresh, _load(site))
    assert json.loads(cache.read_bytes())["files"]


def test_an_unwritable_var_only_costs_speed(site: SiteDir) -> None:
    var: Path = site.root / "var"
    var.write_text("a file where the folder should be", encoding="utf-8")
    _same(_load(site, cache=False), _load(site))


def test_the_cache_is_keyed_by_every_module_validation_runs() -> None:
    """A rule moved out of config/ (the characters text may hold) must still make a stale cache miss."""
    probe = (
        "import sys, json\n"
        "from meet_sched.config import load_config\n"
        "import meet_sched.config.notes, meet_sched.config.json_schema, meet_sched.places.zones\n"
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('meet_sched'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = {Path(f).resolve() for f in json.loads(out.stdout)}
    assert loaded - {f.resolve() for f in code_files()} == set()
