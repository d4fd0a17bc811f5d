"""sample_data.py writes synthetic source data that looks like the real Udacity data, byte for byte."""

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from helpers import BUNDLED_SAMPLE, UDACITY_SAMPLE

from sparkify import sample_data

BUNDLED_ARGUMENTS = {"songs": 300, "events": 3000, "days": 30, "seed": 42, "start": "2018-11-01"}

SMALL = {"songs": 60, "events": 1500, "days": 7, "seed": 7, "start": "2018-11-01"}
NOV_1_2018 = 1541030400000  # 2018-11-01T00:00:00Z in epoch milliseconds


def files_of(folder):
    """{relative path: bytes} of every file under ``folder``."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def read_songs(folder):
    """[(relative path, text, record)] of the song files, records keeping their key order."""
    songs = []
    for path in sorted(Path(folder, "song_data").rglob("*.json")):
        text = path.read_text(encoding="ascii")
        songs.append((path.relative_to(folder).as_posix(), text, json.loads(text)))
    return songs


def read_log_files(folder):
    """[(relative path, text)] of the log files, in day order."""
    paths = sorted(Path(folder, "log_data").rglob("*.json"))
    return [(path.relative_to(folder).as_posix(), path.read_text(encoding="ascii")) for path in paths]


def read_events(folder):
    return [json.loads(line) for _, text in read_log_files(folder) for line in text.splitlines()]


def catalogue_durations(songs):
    durations = defaultdict(list)
    for _, _, record in songs:
        durations[(record["title"], record["artist_name"])].append(record["duration"])
    return durations


def closest_duration_gap(event, durations):
    """How far the play's length is from the nearest catalogue song of that title and artist (None: no such song)."""
    candidates = durations.get((event["song"], event["artist"]))
    if not candidates:
        return None
    return min(abs(duration - event["length"]) for duration in candidates)


def is_match(event, durations):
    """the data contract's rule: same title and artist name, less than 0.01 s apart."""
    gap = closest_duration_gap(event, durations)
    return gap is not None and gap < 0.01


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small generated source: (folder, summary)."""
    folder = tmp_path_factory.mktemp("small")
    return folder, sample_data.generate(folder, **SMALL)


@pytest.fixture(scope="module")
def small_songs(small):
    return read_songs(small[0])


@pytest.fixture(scope="module")
def small_events(small):
    return read_events(small[0])


# ---------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------


def test_same_seed_writes_the_same_bytes(small, tmp_path):
    sample_data.generate(tmp_path, **SMALL)
    assert files_of(tmp_path) == files_of(small[0])


def test_another_seed_writes_other_data(small, tmp_path):
    sample_data.generate(tmp_path, **{**SMALL, "seed": 8})
    mine, theirs = files_of(tmp_path), files_of(small[0])
    assert mine["log_json_path.json"] == theirs["log_json_path.json"]
    assert mine != theirs
    assert {path for path in mine if path.startswith("song_data/")} != {
        path for path in theirs if path.startswith("song_data/")
    }


# ---------------------------------------------------------------------------
# Layout and format
# ---------------------------------------------------------------------------


def test_layout_is_the_real_one(small):
    folder, summary = small
    paths = sorted(files_of(folder))
    song_paths = [path for path in paths if path.startswith("song_data/")]
    log_paths = [path for path in paths if path.startswith("log_data/")]
    assert len(song_paths) == summary["song_files"] == SMALL["songs"]
    for path in song_paths:
        match = re.fullmatch(r"song_data/([A-Z])/([A-Z])/([A-Z])/(TR[A-Z0-9]{16})\.json", path)
        assert match, path
        assert match.group(4)[2:5] == "".join(match.group(1, 2, 3))
    assert log_paths == [f"log_data/2018/11/2018-11-0{day}-events.json" for day in range(1, 8)]
    assert set(paths) == set(song_paths) | set(log_paths) | {"log_json_path.json"}


def test_log_files_follow_the_start_date_across_months(tmp_path):
    sample_data.generate(tmp_path, songs=5, events=50, days=3, seed=1, start="2018-12-31")
    assert [path for path, _ in read_log_files(tmp_path)] == [
        "log_data/2018/12/2018-12-31-events.json",
        "log_data/2019/01/2019-01-01-events.json",
        "log_data/2019/01/2019-01-02-events.json",
    ]
    first_ts = min(event["ts"] for event in read_events(tmp_path))
    assert first_ts >= 1546214400000  # 2018-12-31T00:00:00Z


def test_log_json_path_is_the_real_one(small):
    text = (small[0] / "log_json_path.json").read_text(encoding="ascii")
    assert text == sample_data.LOG_JSON_PATH
    assert json.loads(text)["jsonpaths"] == [f"$['{key}']" for key in sample_data.EVENT_KEYS]
    real = UDACITY_SAMPLE / "log_json_path.json"
    if real.exists():
        assert text == real.read_text(encoding="ascii")


def test_song_files_have_the_real_keys_and_format(small_songs):
    for path, text, record in small_songs:
        assert tuple(record) == sample_data.SONG_KEYS, path
        assert text == json.dumps(record), path  # ", " and ": ", \uXXXX escapes, no trailing newline
        assert record["num_songs"] == 1
        assert re.fullmatch(r"SO[A-Z0-9]{16}", record["song_id"])
        assert re.fullmatch(r"AR[A-Z0-9]{16}", record["artist_id"])
        assert isinstance(record["duration"], float) and record["duration"] > 0
        assert isinstance(record["year"], int)
    assert len({record["song_id"] for _, _, record in small_songs}) == len(small_songs)


def test_log_lines_have_the_real_keys_and_format(small):
    folder, _ = small
    log_files = read_log_files(folder)
    for number, (path, text) in enumerate(log_files):
        last = number == len(log_files) - 1
        # The real files end without a newline, all but the last day's.
        assert text.endswith("\n") == last, path
        for line in text.splitlines():
            event = json.loads(line)
            assert tuple(event) == sample_data.EVENT_KEYS
            compact = json.dumps(event, separators=(",", ":"))
            assert line == compact.replace("/", "\\/")  # compact, "/" escaped, \uXXXX escapes
        timestamps = [json.loads(line)["ts"] for line in text.splitlines()]
        assert timestamps == sorted(timestamps), path


def test_events_have_the_real_types(small_events):
    day_ms = 86_400_000
    for event in small_events:
        assert isinstance(event["userId"], str)
        assert isinstance(event["sessionId"], int) and isinstance(event["itemInSession"], int)
        assert isinstance(event["status"], int)
        # ts in epoch milliseconds, inside the seven days, ticking in whole seconds from .796 as the real clock
        assert NOV_1_2018 <= event["ts"] < NOV_1_2018 + 7 * day_ms
        assert event["ts"] % 1000 == 796
        if event["registration"] is not None:
            assert isinstance(event["registration"], float) and event["registration"] < event["ts"]
        assert (event["method"], event["status"]) == sample_data.PAGE_REQUESTS[event["page"]]


def test_events_are_in_the_file_of_their_day(small):
    for path, text in read_log_files(small[0]):
        day = int(path[-14:-12])
        for line in text.splitlines():
            ts = json.loads(line)["ts"]
            assert (ts - NOV_1_2018) // 86_400_000 == day - 1


def test_serialisers_reproduce_the_real_files_byte_for_byte():
    if not UDACITY_SAMPLE.exists():
        pytest.skip("the real Udacity sample is not beside the project")
    for path in sorted((UDACITY_SAMPLE / "song_data").rglob("*.json")):
        text = path.read_text(encoding="ascii")
        assert sample_data.song_file_text(json.loads(text)) == text, path
    log_paths = sorted((UDACITY_SAMPLE / "log_data").rglob("*.json"))
    for number, path in enumerate(log_paths):
        text = path.read_text(encoding="ascii")
        lines = [sample_data.event_line(json.loads(line)) for line in text.splitlines()]
        assert sample_data.log_file_text(lines, last_file=number == len(log_paths) - 1) == text, path


# ---------------------------------------------------------------------------
# The quirks of the real data
# ---------------------------------------------------------------------------


def test_logged_out_events_have_no_user(small_events):
    logged_out = [event for event in small_events if event["auth"] == "Logged Out"]
    assert logged_out
    for event in logged_out:
        assert event["userId"] == ""
        for key in ("firstName", "lastName", "gender", "location", "userAgent", "registration"):
            assert event[key] is None
        assert event["level"] in ("free", "paid")
        assert event["page"] in ("Home", "Login", "About", "Help")
    assert {"Home", "Login"} <= {event["page"] for event in logged_out}


def test_songs_have_year_0_empty_locations_and_null_coordinates(small_songs):
    records = [record for _, _, record in small_songs]
    assert any(record["year"] == 0 for record in records)
    assert any(record["year"] > 0 for record in records)
    assert any(record["artist_location"] == "" for record in records)
    assert any(record["artist_latitude"] is None and record["artist_longitude"] is None for record in records)
    assert any(record["artist_latitude"] is not None for record in records)


def test_names_and_titles_hold_unicode_escaped(small, small_songs, small_events):
    song_texts = "".join(text for _, text, _ in small_songs)
    assert re.search(r"\\u00[c-f][0-9a-f]", song_texts)  # accented Latin
    assert re.search(r"\\u[4-9][0-9a-f]{3}", song_texts)  # CJK
    assert re.search(r"\\ud83[c-e]\\ud[c-f][0-9a-f]{2}", song_texts)  # emoji, as a surrogate pair
    log_text = "".join(text for _, text in read_log_files(small[0]))
    assert "\\u" in log_text
    assert any(not (event["artist"] or "").isascii() for event in small_events)


def test_an_artist_id_has_several_names_and_locations(small_songs):
    names, locations = defaultdict(set), defaultdict(set)
    for _, _, record in small_songs:
        names[record["artist_id"]].add(record["artist_name"])
        locations[record["artist_id"]].add(record["artist_location"])
    several = [artist for artist in names if len(names[artist]) > 1 and len(locations[artist]) > 1]
    assert several
    for artist in several:
        assert os.path.commonprefix(list(names[artist])).strip()  # "X", "X feat. Y", "X & Z"
    assert any(" feat. " in name for artist in several for name in names[artist])


def test_users_change_level_both_ways_after_submitting(small_events):
    changes = Counter()
    last = {}
    for event in small_events:  # in ts order: each file is sorted, and files are in day order
        user = event["userId"]
        if not user:
            continue
        if user in last and last[user]["level"] != event["level"]:
            assert last[user]["page"] in ("Submit Upgrade", "Submit Downgrade")
            changes[(last[user]["level"], event["level"])] += 1
        last[user] = event
    assert changes[("free", "paid")] and changes[("paid", "free")]


def test_sessions_count_their_items_up_from_0(small_events):
    items = defaultdict(list)
    for event in small_events:
        items[event["sessionId"]].append(event["itemInSession"])
    for session, numbers in items.items():
        assert numbers == list(range(len(numbers))), session


def test_some_events_share_a_ts(small_events):
    ts_counts = Counter(event["ts"] for event in small_events)
    assert any(count > 1 for count in ts_counts.values())
    # two users' plays too, as in the real logs: fewer distinct start times than songplays
    sessions_by_ts = defaultdict(set)
    for event in small_events:
        if event["page"] == "NextSong":
            sessions_by_ts[event["ts"]].add(event["sessionId"])
    assert any(len(sessions) > 1 for sessions in sessions_by_ts.values())
    # yet every event is distinct, as docs/data-contract.md defines them
    identities = Counter((event["sessionId"], event["itemInSession"], event["ts"]) for event in small_events)
    assert max(identities.values()) == 1


def test_page_mix_is_realistic(small_events):
    pages = Counter(event["page"] for event in small_events)
    assert set(pages) <= set(sample_data.PAGE_REQUESTS)
    assert 0.7 < pages["NextSong"] / len(small_events) < 0.9
    for page in ("Home", "Login", "Logout", "Thumbs Up", "Add to Playlist", "Roll Advert", "Upgrade", "Downgrade"):
        assert pages[page], page
    next_songs = [event for event in small_events if event["page"] == "NextSong"]
    assert all(event["artist"] and event["song"] and event["length"] for event in next_songs)
    others = [event for event in small_events if event["page"] != "NextSong"]
    assert all(event["artist"] is None and event["song"] is None and event["length"] is None for event in others)


def test_user_agents_keep_their_quotes(small):
    log_text = "".join(text for _, text in read_log_files(small[0]))
    assert '"userAgent":"\\"Mozilla\\/5.0 (' in log_text
    assert '"userAgent":"Mozilla\\/5.0 (' in log_text


def test_plays_match_the_catalogue_now_and_then(small_songs, small_events):
    durations = catalogue_durations(small_songs)
    gaps = [closest_duration_gap(event, durations) for event in small_events if event["page"] == "NextSong"]
    exact = [gap for gap in gaps if gap == 0]
    near_matches = [gap for gap in gaps if gap is not None and 0 < gap < 0.01]  # 0.005 s off: still a match
    near_misses = [gap for gap in gaps if gap is not None and 0.01 <= gap < 0.03]  # 0.02 s off: no match
    unmatched = [gap for gap in gaps if gap is None or gap >= 0.01]
    assert exact and near_matches and near_misses
    assert len(unmatched) > len(gaps) / 2  # most plays do not match, as in the real data


def test_a_wrong_case_title_is_a_play_too(small_songs, small_events):
    titles = {(record["title"].upper(), record["artist_name"]) for _, _, record in small_songs}
    exact = {(record["title"], record["artist_name"]) for _, _, record in small_songs}
    wrong_case = [
        event for event in small_events
        if event["page"] == "NextSong"
        and (event["song"].upper(), event["artist"]) in titles
        and (event["song"], event["artist"]) not in exact
    ]
    assert wrong_case


def test_summary_counts_what_was_written(small, small_songs, small_events):
    _, summary = small
    durations = catalogue_durations(small_songs)
    next_songs = [event for event in small_events if event["page"] == "NextSong"]
    matched = [event for event in next_songs if is_match(event, durations)]
    assert len(small_events) == SMALL["events"]
    assert summary == {
        "song_files": len(small_songs),
        "log_files": SMALL["days"],
        "events": len(small_events),
        "next_song_events": len(next_songs),
        "matched_plays": len(matched),
        "users": len({event["userId"] for event in small_events} - {""}),
    }


# ---------------------------------------------------------------------------
# Sizes, arguments and the command line
# ---------------------------------------------------------------------------


def test_nothing_at_all(tmp_path):
    summary = sample_data.generate(tmp_path, songs=0, events=0, days=2)
    assert summary["song_files"] == summary["events"] == 0
    assert [text for _, text in read_log_files(tmp_path)] == ["", ""]  # real loaders must take empty files


def test_events_spread_over_the_days(tmp_path):
    summary = sample_data.generate(tmp_path, songs=10, events=700, days=1, seed=3)
    assert summary["events"] == len(read_events(tmp_path)) == 700


def test_an_existing_source_is_kept_unless_replaced(tmp_path):
    sample_data.generate(tmp_path, songs=3, events=20, days=1)
    with pytest.raises(FileExistsError):
        sample_data.generate(tmp_path, songs=3, events=20, days=1, seed=2)
    (tmp_path / "notes.txt").write_text("mine")
    sample_data.generate(tmp_path, songs=4, events=20, days=1, seed=2, replace=True)
    assert len(read_songs(tmp_path)) == 4
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_command_line(tmp_path, capsys):
    arguments = {"songs": 12, "events": 300, "days": 3, "seed": 5, "start": "2018-11-10"}
    sample_data.generate(tmp_path / "from_python", **arguments)
    sample_data.main([str(tmp_path / "from_cli"), "--songs", "12", "--events", "300", "--days", "3",
                      "--seed", "5", "--start", "2018-11-10"])
    printed = capsys.readouterr().out
    assert re.fullmatch(r"Wrote 12 song files and 3 log files \(300 events, .* in \d+\.\d s\n", printed)
    assert files_of(tmp_path / "from_cli") == files_of(tmp_path / "from_python")


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        sample_data.main(["--help"])
    text = capsys.readouterr().out
    for option in ("OUT_DIR", "--songs", "--events", "--days", "--seed", "--start", "--replace"):
        assert option in text


# ---------------------------------------------------------------------------
# The bundled sample
# ---------------------------------------------------------------------------


def test_bundled_sample_is_what_generate_writes(tmp_path):
    """data/sample/ can always be regenerated with the command in the module docstring."""
    command = (
        "python -m sparkify.sample_data data/sample --songs {songs} --events {events} --days {days} "
        "--seed {seed} --start {start} --replace"
    ).format(**BUNDLED_ARGUMENTS)
    assert command in sample_data.__doc__
    sample_data.generate(tmp_path, **BUNDLED_ARGUMENTS)
    assert files_of(BUNDLED_SAMPLE) == files_of(tmp_path)


def test_bundled_sample_is_small_and_has_the_quirks():
    files = files_of(BUNDLED_SAMPLE)
    assert sum(len(content) for content in files.values()) < 2_000_000
    songs, events = read_songs(BUNDLED_SAMPLE), read_events(BUNDLED_SAMPLE)
    assert len(songs) == 300 and len(events) == 3000
    durations = catalogue_durations(songs)
    matched = [event for event in events if event["page"] == "NextSong"
               and is_match(event, durations)]
    assert len(matched) >= 12
    assert any(event["auth"] == "Logged Out" for event in events)
    assert any(record["year"] == 0 for _, _, record in songs)
