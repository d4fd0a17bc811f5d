"""The pipeline against an independent reading of docs/data-contract.md (tests/reference_model.py).

Each case loads a source with the ETL, then compares every row of every star
table with what the reference model computes from the same files. Floats are
compared exactly as PostgreSQL's DOUBLE PRECISION gives them back, timestamps
as datetime.
"""

import json
from collections import Counter

import pytest
import reference_model as model
from helpers import BUNDLED_SAMPLE, UDACITY_SAMPLE, event, song, write_source

from sql_queries import star_tables

SHOWN = 5  # differing rows shown per table and side


def assert_same_rows(actual_tables, expected_tables):
    """Every table holds exactly the expected rows; else name the rows that differ."""
    problems = []
    for name in star_tables:
        actual, expected = Counter(actual_tables[name]), Counter(expected_tables[name])
        missing = sorted((expected - actual).elements(), key=model.sort_key)
        unexpected = sorted((actual - expected).elements(), key=model.sort_key)
        if missing or unexpected:
            lines = [f"{name}: {len(actual_tables[name])} rows, {len(expected_tables[name])} expected; "
                     f"{len(missing)} missing, {len(unexpected)} unexpected"]
            lines += [f"  - expected, missing: {row!r}" for row in missing[:SHOWN]]
            lines += [f"  + loaded, unexpected: {row!r}" for row in unexpected[:SHOWN]]
            problems.append("\n".join(lines))
    if problems:
        pytest.fail("the warehouse differs from the reference model:\n" + "\n".join(problems), pytrace=False)


def load_and_compare(warehouse, source):
    """Load ``source`` with the pipeline, compare with the model; return both."""
    events, songs = model.read_source(source)
    expected = model.expected_tables(events, songs)
    result = warehouse.load(source)
    assert result.committed
    snapshot = warehouse.snapshot()
    assert len(snapshot["staging_events"]) == len(events)
    assert len(snapshot["staging_songs"]) == len(songs)
    assert_same_rows(snapshot, expected)
    return snapshot, expected


def test_bundled_sample(warehouse):
    if not (BUNDLED_SAMPLE / "log_json_path.json").is_file():
        pytest.skip(f"{BUNDLED_SAMPLE} is absent")
    load_and_compare(warehouse, BUNDLED_SAMPLE)


@pytest.mark.parametrize(
    "songs, events, days, seed",
    [
        (5, 40, 1, 1),
        (20, 300, 3, 2),
        (40, 600, 7, 3),
        (60, 1500, 30, 4),
        (300, 8000, 30, 5),
    ],
)
def test_generated_source(warehouse, tmp_path, songs, events, days, seed):
    from sparkify import sample_data
    source = tmp_path / "source"
    written = sample_data.generate(source, songs=songs, events=events, days=days, seed=seed)
    _, expected = load_and_compare(warehouse, source)
    # The generator's own account of what it wrote agrees with the model.
    plays = expected["songplay_table"]
    assert written["next_song_events"] == len(plays)
    assert written["matched_plays"] == sum(1 for row in plays if row[3] is not None)
    assert written["users"] == len(expected["user_table"])
    assert written["song_files"] == len(expected["song_table"])


def test_generated_source_resent_and_concatenated(warehouse, tmp_path):
    """A re-sent log file stages its events twice but they count once; song
    files holding several objects separated by whitespace stage them all."""
    from sparkify import sample_data
    source = tmp_path / "source"
    sample_data.generate(source, songs=30, events=400, days=4, seed=5)
    first_day = sorted((source / "log_data").rglob("*.json"))[0]
    (first_day.parent / f"{first_day.stem}-resent.json").write_bytes(first_day.read_bytes())
    song_files = sorted((source / "song_data").rglob("*.json"))
    texts = [path.read_text(encoding="utf-8") for path in song_files[:6]]
    song_files[0].write_text(texts[0] + "\n" + texts[1] + "  " + texts[2] + "\r\n\t" + texts[3], encoding="utf-8")
    for path in song_files[1:4]:
        path.write_text("", encoding="utf-8")
    snapshot, expected = load_and_compare(warehouse, source)
    assert len(snapshot["staging_songs"]) == 30
    resent = len(model.json_objects(first_day.read_text(encoding="utf-8")))
    assert len(snapshot["staging_events"]) == 400 + resent


def test_udacity_sample(warehouse):
    if not UDACITY_SAMPLE.is_dir():
        pytest.skip(f"{UDACITY_SAMPLE} is absent (it is not part of a clone)")
    snapshot, expected = load_and_compare(warehouse, UDACITY_SAMPLE)
    # docs/data-contract.md#the-star-schema's figures for this sample.
    assert len(snapshot["staging_events"]) == 8056
    assert len(snapshot["staging_songs"]) == 71
    assert len(expected["songplay_table"]) == 6820
    assert sum(1 for row in expected["songplay_table"] if row[3] is not None) == 1
    assert len(expected["user_table"]) == 97
    assert len(expected["time_table"]) == 6813


# Small hand-written sources that put the tie-breaks and boundaries of docs/data-contract.md
# section 3 to work, where the generated data rarely goes.
EDGE_SOURCES = {
    "re-sent events count once": dict(
        events=[event(), event(), event(ts=1541106106797, userId="")], songs=[song()]),
    "several matches: smallest song_id, then artist_id": dict(
        events=[event()],
        songs=[song(song_id="SB", artist_id="A2"), song(song_id="SA", artist_id="A9"),
               song(song_id="SA", artist_id="A1"), song(song_id=None, artist_id="A0")]),
    "match: under 0.01 s as written, case- and blank-sensitive": dict(
        events=[event(itemInSession=n, length=length, song=title) for n, (length, title) in enumerate([
            (246.31812, "You Gotta Be"), (246.29812, "You Gotta Be"), (246.31811, "You Gotta Be"),
            ("246.3", "You Gotta Be"), (246.30812, "You gotta be"), (246.30812, "You Gotta Be ")])],
        songs=[song()]),
    "artist name: shortest in characters, then code points": dict(
        songs=[song(song_id="S1", artist_name="bb"), song(song_id="S2", artist_name="Bb"),
               song(song_id="S3", artist_name="\u00e9a"), song(song_id="S4", artist_name=""),
               song(song_id="S5", artist_id="A2", artist_name="ab"),
               song(song_id="S6", artist_id="A2", artist_name="\U0001F600"),
               song(song_id="S7", artist_id="A3", artist_name=None)]),
    "artist location and coordinates: smallest song_id that has them": dict(
        songs=[song(song_id="S2", artist_location="B"), song(song_id="S1", artist_location=""),
               song(song_id="S0", artist_location=None, artist_latitude=None),
               song(song_id=None, artist_id="A2", artist_location="no song_id", artist_longitude=None),
               song(song_id="S5", artist_id="A2", artist_location="X", artist_latitude=2.0, artist_longitude=3.0),
               song(song_id="S9", artist_id="A3", artist_location="", artist_latitude=None)]),
    "song: first record by title, artist_id, duration; year 0 is NULL": dict(
        songs=[song(song_id="S1", title="b", year=2000), song(song_id="S1", title="a", artist_id="A9", year=0),
               song(song_id="S2", title=None, year=1999), song(song_id="S2", title="x", year=0)]),
    "user: latest by ts, session_id, item_in_session, any page": dict(
        events=[event(page="Home", ts=5, sessionId=1, level="paid", userId="3"),
                event(page="Home", ts=5, sessionId=None, itemInSession=9, level="free", userId="3"),
                event(page="Logout", ts=4, userId=3, level="x"), event(ts=9, userId=""),
                event(ts=1, sessionId=2, itemInSession=1, level="a", userId="7"),
                event(page="Home", ts=1, sessionId=2, itemInSession=2, level="b", userId="7")]),
    "time: ISO weeks, Sunday 0, before the epoch": dict(
        events=[event(itemInSession=n, ts=ts) for n, ts in enumerate([
            1546214400000, 1546300799999, 1546300800000, 1230681600000, 1262217600001, 0, -1])]),
    "objects separated by any whitespace, empty files": dict(
        log_files={"a.json": json.dumps(event()) + "   " + json.dumps(event(itemInSession=2)),
                   "b.json": "", "c.json": json.dumps(event(itemInSession=4), indent=2) + "\r\n"},
        songs=[json.dumps(song()) + " " + json.dumps(song(song_id="S2")) + "\n" + json.dumps(song(song_id="S3")), ""]),
}
# Discrepancies found with the model: the pipeline decides "less than 0.01 s"
# on CAST(double AS DECIMAL(38, 9)), which PostgreSQL computes from the double's
# 15 significant digits, rounded to 9 decimals, and never matches |length| >= 1e15.
DECIMAL_CAST = "pipeline compares durations as DECIMAL(38, 9) cast from the double, not as written"
EDGE_SOURCES_XFAIL = {
    "match: more than 9 decimals": dict(events=[event(length=246.3081200001)], songs=[song(duration=246.31812)]),
    "match: more than 15 significant digits": dict(
        events=[event(length=1246.308120000001)], songs=[song(duration=1246.31812)]),
    "match: lengths of 1e15 s or more": dict(
        events=[event(length=10**15)], songs=[song(duration=10**15)]),
}


@pytest.mark.parametrize(
    "name",
    list(EDGE_SOURCES)
    + [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=DECIMAL_CAST)) for name in EDGE_SOURCES_XFAIL],
)
def test_edge_source(warehouse, tmp_path, name):
    load_and_compare(warehouse, write_source(tmp_path, **{**EDGE_SOURCES, **EDGE_SOURCES_XFAIL}[name]))


def test_the_comparison_names_the_differing_rows():
    """A mismatch reads well: the table, the counts, and the rows on each side."""
    expected = {name: [] for name in star_tables}
    actual = {name: [] for name in star_tables}
    expected["user_table"] = [(8, "Kaylee", "Summers", "F", "free"), (9, "A", "B", "M", "paid")]
    actual["user_table"] = [(8, "Kaylee", "Summers", "F", "paid"), (9, "A", "B", "M", "paid")]
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_same_rows(actual, expected)
    message = str(failure.value)
    assert "user_table: 2 rows, 2 expected; 1 missing, 1 unexpected" in message
    assert "expected, missing: (8, 'Kaylee', 'Summers', 'F', 'free')" in message
    assert "loaded, unexpected: (8, 'Kaylee', 'Summers', 'F', 'paid')" in message
    assert "song_table" not in message
