"""Bad input: each case gives one clear error, or a rejected record, with its place.

Every case runs etl.py's main() as a person would (``--dsn``, ``--source``,
``--max-errors``), for the events and for the songs. Where the load fails, the
exit code is 1, the message names the file and the line, no traceback is
printed, the previous warehouse is unchanged, and a rerun on the fixed source
succeeds. The rows of docs/failures.md come from tests/failure_cases.py and are
checked here against the real output.

The record cases run three ways (``staging_mode``): as a small source is
staged (each file whole, in this process), with every file cut into tasks of
a few bytes (so that a bad record lands at a cut, or spreads over several
tasks), and with those tasks run by worker processes, as a large source is.
"""

import io
import json
import os
import shutil
import tracemalloc
from functools import partial

import pytest
from failure_cases import EVENTS_FILE, FAILURES, SONG_FILE
from helpers import JSONPATHS, event, song, write_source
from hypothesis import given, settings
from hypothesis import strategies as st

import etl
from sparkify.engines.local_loader import json_records
from sparkify.engines.local_loader import staging as staging_loader
from sparkify.sources.jsonpaths import extract, read_jsonpaths

EVENTS = [event(itemInSession=item, ts=1541106106796 + item * 1000) for item in range(3)]
SONGS = [song(), song(song_id="SOZZZZZ12A8C13B0F4", title="Other song", duration=200.5)]


def good_events_file() -> bytes:
    return "".join(json.dumps(record) + "\n" for record in EVENTS).encode()


def with_second_line(bad: bytes) -> bytes:
    lines = good_events_file().splitlines(keepends=True)
    return lines[0] + bad + b"\n" + lines[2]


def make_source(folder, events_file: bytes | None = None, song_file: bytes | None = None, extra=None):
    """The good source, with its events file or its second song file replaced by ``bytes``."""
    write_source(folder, events=EVENTS, songs=SONGS)
    if events_file is not None:
        (folder / EVENTS_FILE).write_bytes(events_file)
    if song_file is not None:
        (folder / SONG_FILE).write_bytes(song_file)
    for name, content in (extra or {}).items():
        (folder / name).write_bytes(content)
    return folder


def dumps(record) -> bytes:
    return json.dumps(record).encode()


def written_number(key, number: bytes, make=event) -> bytes:
    """A record whose ``key`` holds the JSON number ``number``, written as it is."""
    return dumps(make(**{key: "PLACEHOLDER"})).replace(b'"PLACEHOLDER"', number)


def event_without(key):
    return {name: value for name, value in EVENTS[1].items() if name != key}


def song_without(key):
    return {name: value for name, value in SONGS[1].items() if name != key}


# ---------------------------------------------------------------------------
# Running etl.py
# ---------------------------------------------------------------------------


@pytest.fixture
def etl_main(warehouse, capsys):
    """Run etl.py's main() on the test schema: (exit code, stdout, stderr).

    With --replace-source: each test writes its sources in folders of its own,
    and a source that is not the one the warehouse holds is refused without it.
    """

    def run(source, *options):
        code = etl.main(["--dsn", warehouse.dsn, "--source", str(source), "--replace-source", *options])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def previous(warehouse, tmp_path):
    """A warehouse loaded from the good source: the state a failed run must leave."""
    good = make_source(tmp_path / "good")
    warehouse.load(good)
    return state(warehouse)


def state(warehouse):
    return warehouse.snapshot(), warehouse.table("rejected_records")


def assert_clear_failure(code, err, *fragments):
    assert code == 1
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err
    assert all(line.isprintable() for line in err.splitlines()), "source text reached the terminal raw"
    assert err.rstrip().endswith("Nothing was committed: the previous warehouse is unchanged.")


# ---------------------------------------------------------------------------
# Bad records: rejected, with their place
# ---------------------------------------------------------------------------

# (case, table, the bad source's events file or song file, line, what the message says)
BAD_RECORDS = [
    ("malformed JSON: cut mid-object", "events", with_second_line(b'{"artist": "x", "ts": 1541106106796'), 2,
     "invalid JSON"),
    ("malformed JSON: cut mid-object", "songs", dumps(SONGS[1])[:40], 1, "invalid JSON"),
    ("malformed JSON: trailing comma", "events", with_second_line(dumps(EVENTS[1])[:-1] + b", }"), 2,
     "invalid JSON"),
    ("malformed JSON: trailing comma", "songs", dumps(SONGS[1])[:-1] + b",}", 1, "invalid JSON"),
    ("malformed JSON: a stray line of text", "events", with_second_line(b"this is not JSON"), 2, "invalid JSON"),
    ("malformed JSON: a stray line of text", "songs", dumps(SONGS[1]) + b"\nthis is not JSON\n", 2,
     "invalid JSON"),
    ('wrong type: "sessionId": "abc"', "events", with_second_line(dumps(event(sessionId="abc"))), 2,
     "column session_id: session_id 'abc' is not an integer"),
    ('wrong type: "sessionId": "abc"', "songs", dumps(song(year="abc")), 1,
     "column year: year 'abc' is not an integer"),
    ("wrong type: a string duration", "events", with_second_line(dumps(event(length="long"))), 2,
     "column length: length 'long' is not a number"),
    ("wrong type: a string duration", "songs", dumps(song(duration="long")), 1,
     "column duration: duration 'long' is not a number"),
    ("missing key `ts` (NOT NULL)", "events", with_second_line(dumps(event_without("ts"))), 2,
     "column ts: ts has no value, and the column is NOT NULL"),
    ("a string longer than its column", "events", with_second_line(dumps(event(song="x" * 2000))), 2,
     "column song: song is 2000 bytes long, more than the column's 1024"),
    ("a string longer than its column", "songs", dumps(song(title="\u00e9" * 600)), 1,
     "column title: title is 1200 bytes long, more than the column's 1024"),
    ("a `ts` the transform cannot hold (outside years 1 to 9999)", "events",
     with_second_line(dumps(event(ts=10**15))), 2, "column ts: ts 1000000000000000 is out of range"),
    ("a `ts` the transform cannot hold (outside years 1 to 9999)", "events",
     with_second_line(dumps(event(ts=-(2**62)))), 2, "column ts: ts -4611686018427387904 is out of range"),
    ("a value of 1,100 characters in a number column", "events", with_second_line(dumps(event(sessionId="x" * 1100))),
     2, "column session_id: session_id '" + "x" * 40 + "'… (1,100 characters) is not an integer"),
    ("a value of 1,100 characters in a number column", "songs", dumps(song(year="\u00e9" * 1100)), 1,
     "(1,100 characters) is not an integer"),
    ("a value of 1,100 characters in a number column", "events",
     with_second_line(dumps(event(sessionId=[1] * 1000))), 2, "column session_id: session_id [1,1,"),
    ("a string of 5,000 digits in a number column", "events", with_second_line(dumps(event(sessionId="9" * 5000))), 2,
     "column session_id: session_id '9999999999999999999999999999999999999999'… (5,000 characters) is out of range"),
    ("a string of 5,000 digits in a number column", "songs", dumps(song(year="-" + "1" * 4400)), 1,
     "(4,401 characters) is out of range"),
    ("a string of 5,000 digits in a number column", "events",
     with_second_line(dumps(event()).replace(b'"sessionId": 139', b'"sessionId": ' + b"7" * 1000)), 2,
     "column session_id: session_id 7777777777777777777777777777777777777777… (1,000 characters) is out of range"),
    ("control characters or ESC sequences in a bad value", "events",
     with_second_line(dumps(event(sessionId="\x1b[2J\rAll 14 checks passed"))), 2,
     "column session_id: session_id '\\x1b[2J\\rAll 14 checks passed' is not an integer"),
    ("control characters or ESC sequences in a bad value", "songs", dumps(song(year="\x1b]0;title\x07\n")), 1,
     "column year: year '\\x1b]0;title\\x07\\n' is not an integer"),
    ("control characters or ESC sequences in a bad value", "events", with_second_line(b"\x1b[2J\r\x9b not JSON"), 2,
     "not valid UTF-8"),
    ("control characters or ESC sequences in a bad value", "events", with_second_line(b"\x1b[2J\r not JSON"), 2,
     "invalid JSON"),
    ("bytes that are not UTF-8", "events", with_second_line(b'{"artist": "\xff\xfe", "ts": 1}'), 2,
     "not valid UTF-8 (byte 13 of the line)"),
    ("bytes that are not UTF-8", "songs", b'{"artist_name": "\xff\xfe"}', 1, "not valid UTF-8 (byte 18 of the line)"),
]


def bad_source(folder, table, content):
    return make_source(folder, **{"events_file" if table == "events" else "song_file": content})


def place(table, line):
    return f"{EVENTS_FILE if table == 'events' else SONG_FILE}:{line}"


@pytest.mark.parametrize(
    "case, table, content, line, reason",
    [pytest.param(*row, id=f"{row[1]}: {row[0]}") for row in BAD_RECORDS],
)
def test_a_bad_record_fails_the_load_with_its_place_and_a_fixed_rerun_succeeds(
    warehouse, etl_main, previous, tmp_path, case, table, content, line, reason, staging_mode
):
    code, out, err = etl_main(bad_source(tmp_path / "bad", table, content))
    assert_clear_failure(code, err, f"{place(table, line)}", reason, f"staging_{table}: ")
    assert FAILURES[case].exit_code == code
    if place(table, line) in FAILURES[case].message and reason in FAILURES[case].message:
        assert FAILURES[case].message in err  # the row's own example: shown exactly as docs/failures.md says
    assert state(warehouse) == previous, "the previous warehouse must be unchanged"

    code, out, err = etl_main(make_source(tmp_path / "fixed"))
    assert code == 0, err
    assert state(warehouse) == previous


@pytest.mark.parametrize(
    "case, table, content, line, reason",
    [pytest.param(*row, id=f"{row[1]}: {row[0]}") for row in BAD_RECORDS],
)
def test_with_max_errors_a_bad_record_is_kept_and_the_rest_loads(
    warehouse, etl_main, tmp_path, case, table, content, line, reason, staging_mode
):
    code, out, err = etl_main(bad_source(tmp_path / "bad", table, content), "--max-errors", "1")
    assert code == 0, err
    assert f"rejected staging_{table} {place(table, line)}" in out
    [(file_name, line_number, rejected_reason)] = warehouse.query(
        "SELECT source_file, line_number, reason FROM rejected_records"
    )
    assert f"{file_name}:{line_number}" == place(table, line)
    assert reason.split(": ")[-1] in rejected_reason
    good = {"events": len(EVENTS), "songs": len(SONGS)}
    good[table] -= 0 if case == "malformed JSON: a stray line of text" and table == "songs" else 1
    assert warehouse.count("staging_events") == good["events"]
    assert warehouse.count("staging_songs") == good["songs"]


def test_more_rejected_records_than_max_errors_still_fails(warehouse, etl_main, previous, tmp_path, staging_mode):
    lines = [b"oops", dumps(EVENTS[0]), b"oops again", b"and again"]
    code, out, err = etl_main(make_source(tmp_path / "bad", events_file=b"\n".join(lines)), "--max-errors", "2")
    failure = FAILURES["more rejected records than --max-errors N"]
    assert_clear_failure(code, err, f"{EVENTS_FILE}:4: invalid JSON", failure.message)
    assert state(warehouse) == previous


# ---------------------------------------------------------------------------
# Input that is odd but fine: loaded as COPY would
# ---------------------------------------------------------------------------

bom = json_records.UTF8_BOM

HARMLESS = [
    ("missing optional key", "events", with_second_line(dumps(event_without("artist"))),
     "SELECT COUNT(*) FROM staging_events WHERE artist IS NULL", 1),
    ("missing optional key", "songs", dumps(song_without("artist_location")),
     "SELECT COUNT(*) FROM staging_songs WHERE artist_location IS NULL", 1),
    ("extra keys", "events", with_second_line(dumps(event(extra={"nested": [1, 2]}, another="x"))),
     "SELECT COUNT(*) FROM staging_events", 3),
    ("extra keys", "songs", dumps(song(extra=[1, 2])), "SELECT COUNT(*) FROM staging_songs", 2),
    ("a UTF-8 byte-order mark", "events", bom + good_events_file(), "SELECT COUNT(*) FROM staging_events", 3),
    ("a UTF-8 byte-order mark", "songs", bom + dumps(SONGS[1]), "SELECT COUNT(*) FROM staging_songs", 2),
    ("a number in a text column (1.10, 1e400, 2^64)", "events", with_second_line(written_number("song", b"1.10")),
     "SELECT COUNT(*) FROM staging_events WHERE song = '1.10'", 1),
    ("a number in a text column (1.10, 1e400, 2^64)", "events", with_second_line(written_number("artist", b"1e400")),
     "SELECT COUNT(*) FROM staging_events WHERE artist = '1e400'", 1),
    ("a number in a text column (1.10, 1e400, 2^64)", "songs",
     written_number("title", b"18446744073709551616", song), "SELECT COUNT(*) FROM staging_songs "
     "WHERE title = '18446744073709551616'", 1),
    ("a number in a text column (1.10, 1e400, 2^64)", "songs",
     written_number("artist_name", b"-123456789012345678901234567890.50E-3", song),
     "SELECT COUNT(*) FROM staging_songs WHERE artist_name = '-123456789012345678901234567890.50E-3'", 1),
]


@pytest.mark.parametrize(
    "case, table, content, query, expected",
    [pytest.param(*row, id=f"{row[1]}: {row[0]}") for row in HARMLESS],
)
@pytest.mark.parametrize("max_errors", ["0", "5"])
def test_harmless_oddities_load_as_copy_would(etl_main, warehouse, tmp_path, case, table, content, query, expected,
                                              max_errors, staging_mode):
    code, out, err = etl_main(bad_source(tmp_path / "odd", table, content), "--max-errors", max_errors)
    assert code == FAILURES[case].exit_code == 0, err
    assert FAILURES[case].message in out
    assert warehouse.query(query)[0][0] == expected
    assert warehouse.count("rejected_records") == 0


@pytest.mark.parametrize("max_errors", ["0", "5"])
def test_empty_files_load_nothing_and_fail_nothing(etl_main, warehouse, tmp_path, max_errors, staging_mode):
    source = make_source(tmp_path / "empty-files", extra={
        "log_data/2018/11/2018-11-02-events.json": b"",
        "song_data/A/B/C/TRABC0000000000002.json": b"",
    })
    code, out, err = etl_main(source, "--max-errors", max_errors)
    assert code == FAILURES["an empty file"].exit_code == 0, err
    assert FAILURES["an empty file"].message in out
    assert (warehouse.count("staging_events"), warehouse.count("staging_songs")) == (3, 2)


# ---------------------------------------------------------------------------
# A bad source: one error, whatever --max-errors says
# ---------------------------------------------------------------------------


def empty_folder(folder):
    folder.mkdir()
    return folder


def without_jsonpaths(folder):
    make_source(folder)
    (folder / "log_json_path.json").unlink()
    return folder


def malformed_jsonpaths(folder):
    make_source(folder)
    (folder / "log_json_path.json").write_text('{\n  "jsonpaths": [\n    "$[\'artist\']",,\n  ]\n}\n')
    return folder


def jsonpaths_one_short(folder):
    make_source(folder)
    (folder / "log_json_path.json").write_text(json.dumps({"jsonpaths": JSONPATHS["jsonpaths"][:-1]}))
    return folder


def jsonpaths_a_directory(folder):
    make_source(folder)
    (folder / "log_json_path.json").unlink()
    (folder / "log_json_path.json").mkdir()
    return folder


def a_path_over_1024_bytes(folder):
    make_source(folder)
    deep = folder / "song_data" / "/".join(["d" * 250] * 4)
    deep.mkdir(parents=True)
    (deep / "TRDEEP.json").write_bytes(dumps(SONGS[0]))
    return folder


BAD_SOURCES = [
    ("an empty source folder", empty_folder),
    ("`log_json_path.json` is a directory", jsonpaths_a_directory),
    ("a file path over 1,024 bytes", a_path_over_1024_bytes),
    ("missing `log_json_path.json`", without_jsonpaths),
    ("malformed `log_json_path.json`", malformed_jsonpaths),
    ("JSONPaths path count differs from the table's columns", jsonpaths_one_short),
]


@pytest.mark.parametrize("case, build", [pytest.param(*row, id=row[0]) for row in BAD_SOURCES])
@pytest.mark.parametrize("max_errors", ["0", "5"])
def test_a_bad_source_fails_with_one_clear_error_and_a_fixed_rerun_succeeds(
    warehouse, etl_main, previous, tmp_path, case, build, max_errors
):
    code, out, err = etl_main(build(tmp_path / "bad"), "--max-errors", max_errors)
    assert_clear_failure(code, err, FAILURES[case].message)
    assert len(err.strip().splitlines()) == 2, "one line for the error, one to say nothing changed"
    assert state(warehouse) == previous

    code, out, err = etl_main(make_source(tmp_path / "fixed"), "--max-errors", max_errors)
    assert code == 0, err
    assert state(warehouse) == previous


ODD_NAMES = [  # (case, file names to add: each a copy of the good events file)
    ("files named `*.JSON` (any case)", ["log_data/2018/11/2018-11-02-events.JSON", "log_data/2018/11/x.Json"]),
    ("a file name that is not UTF-8", [os.fsdecode(b"log_data/2018/11/2018-11-02-\xff\xfe.json")]),
    ("a file name that is not UTF-8", [os.fsdecode(b"log_data/2018/11/\x1b[2J\rnew\nline-\xe9.json")]),
]


@pytest.mark.parametrize("case, names", [pytest.param(*row, id=repr(row[1])) for row in ODD_NAMES])
def test_files_with_odd_names_are_loaded_and_their_names_stored(etl_main, warehouse, tmp_path, case, names):
    source = make_source(tmp_path / "odd-names", extra={name: good_events_file() for name in names})
    code, out, err = etl_main(source)
    assert code == FAILURES[case].exit_code == 0, err
    assert FAILURES[case].message in out
    assert all(line.isprintable() for line in (out + err).splitlines())
    assert warehouse.count("staging_events") == len(EVENTS) * (1 + len(names))


def test_a_symlink_loop_a_dangling_symlink_and_a_fifo_are_left_out_never_a_hang(etl_main, warehouse, tmp_path):
    source = make_source(tmp_path / "odd-files")
    os.symlink(".", source / "song_data" / "A" / "loop")
    os.symlink("self", source / "song_data" / "self")
    os.symlink("nowhere.json", source / "log_data" / "dangling.json")
    os.mkfifo(source / "log_data" / "pipe.json")
    code, out, err = etl_main(source)
    case = FAILURES["a symlink loop, a dangling symlink or a FIFO in the source"]
    assert code == case.exit_code == 0, err
    assert case.message in out
    assert (warehouse.count("staging_events"), warehouse.count("staging_songs")) == (len(EVENTS), len(SONGS))
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    for name in ("log_data/dangling.json", "log_data/pipe.json", "song_data/self"):
        assert any(f"{source}/{name}: " in line and line.endswith(": not loaded") for line in warnings), warnings


def test_a_column_null_in_every_staged_row_is_a_warning_line(etl_main, warehouse, tmp_path):
    source = make_source(tmp_path / "typo")
    paths = [path.replace("'artist'", "'artst'") for path in JSONPATHS["jsonpaths"]]
    (source / "log_json_path.json").write_text(json.dumps({"jsonpaths": paths}))
    code, out, err = etl_main(source)
    case = FAILURES["a JSONPaths typo: a column NULL in every staged row"]
    assert code == case.exit_code == 0, err
    assert case.message in out
    assert "warning: staging_events: column artist is NULL in every one of the 3 staged rows" in out


def test_quiet_prints_the_warnings_on_stderr_and_keeps_one_summary_line(etl_main, warehouse, tmp_path):
    source = make_source(tmp_path / "odd-quiet")
    os.symlink("nowhere.json", source / "log_data" / "dangling.json")
    code, out, err = etl_main(source, "--quiet")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 2, out  # the target, and the one summary line
    [warning] = err.strip().splitlines()
    assert warning.startswith("warning: ") and "log_data/dangling.json" in warning


def test_a_daily_run_says_how_many_loaded_files_left_the_source_and_that_full_drops_them(etl_main, warehouse,
                                                                                      tmp_path):
    source = make_source(tmp_path / "shrinking", extra={"log_data/2018/11/2018-11-02-events.json":
                                                        dumps(event(sessionId=7)) + b"\n"})
    assert etl_main(source)[0] == 0
    (source / "log_data/2018/11/2018-11-02-events.json").unlink()
    code, out, err = etl_main(source)
    case = FAILURES["a loaded file deleted from the source"]
    assert code == case.exit_code == 0, err
    assert case.message in out
    assert warehouse.query("SELECT COUNT(*) FROM songplay_table WHERE session_id = 7") == [(1,)], "kept"
    code, out, err = etl_main(source, "--full")
    assert code == 0 and case.message not in out
    assert warehouse.query("SELECT COUNT(*) FROM songplay_table WHERE session_id = 7") == [(0,)], "dropped"


def test_a_line_longer_than_the_record_limit_is_one_rejected_record(etl_main, warehouse, previous, tmp_path):
    long_line = dumps(event(padding="y" * (json_records.MAX_RECORD_BYTES + 10)))
    content = with_second_line(long_line) + dumps(event(sessionId="abc")) + b"\n"
    source = make_source(tmp_path / "long-line", events_file=content)
    code, out, err = etl_main(source)
    assert_clear_failure(code, err, FAILURES["a JSON object larger than the 4 MB record limit"].message)
    code, out, err = etl_main(source, "--max-errors", "5")
    assert code == 0, err
    assert warehouse.query("SELECT line_number, column_name FROM rejected_records ORDER BY 1") == [
        (2, None), (4, "session_id"),
    ]


# ---------------------------------------------------------------------------
# A re-delivered file and a very large one
# ---------------------------------------------------------------------------


def test_a_redelivered_file_is_staged_twice_and_counted_once(etl_main, warehouse, tmp_path):
    source = make_source(tmp_path / "resent", extra={
        "log_data/2018/11/2018-11-01-events-resent.json": good_events_file(),
    })
    code, out, err = etl_main(source)
    assert code == 0, err
    assert FAILURES["a re-delivered file"].message in out
    assert warehouse.count("staging_events") == 2 * len(EVENTS)
    assert warehouse.count("songplay_table") == len(EVENTS)
    assert warehouse.count("time_table") == len(EVENTS)


def test_a_very_large_file_is_streamed_with_bounded_memory(warehouse, tmp_path, monkeypatch):
    """Peak memory stays a small part of the file's size: it is never read whole.

    The loader's tasks and the reader's block are shrunk to 256 KB, and the
    pieces parsed at once to 32 KB, so that an 8 MB file shows it.
    """
    monkeypatch.setattr(staging_loader, "read_records", partial(json_records.read_records, block_bytes=256 * 1024))
    monkeypatch.setattr(staging_loader, "TASK_BYTES", 256 * 1024)
    monkeypatch.setattr(staging_loader, "PARSE_BYTES", 32 * 1024)
    line = json.dumps(event(song="x" * 200)).encode()
    count = 8 * 1024 * 1024 // len(line)
    content = io.BytesIO()
    for item in range(count):
        content.write(line.replace(b'"itemInSession": 1', f'"itemInSession": {item}'.encode()) + b"\n")
    source = make_source(tmp_path / "large", events_file=content.getvalue())
    size = len(content.getvalue())
    del content

    tracemalloc.start()
    try:
        result = warehouse.load(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.loads[0].rows == count
    assert result.committed
    assert peak < size / 4, f"peak {peak:,} bytes for a file of {size:,}"


# ---------------------------------------------------------------------------
# The reader and the JSONPaths mapping agree with Python's own json
# ---------------------------------------------------------------------------

# Integers within 64 bits: beyond, the fast parser reads a float (a decision in the README).
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
# keys with the characters a JSONPath must quote or escape, besides any text
keys = st.text(st.sampled_from("ab'\"\\.[]$ \u00e9"), max_size=4) | st.text(max_size=6)
json_objects = st.dictionaries(keys, json_values, max_size=5)
layouts = st.sampled_from([
    {"separators": (",", ":")},
    {},
    {"indent": 2},
    {"ensure_ascii": False},
])
gaps = st.sampled_from(["\n", "\r\n", "\n\n", " ", "\t\n  ", ""])


@settings(max_examples=150, deadline=None)
@given(
    objects=st.lists(st.tuples(json_objects, layouts, gaps), max_size=6),
    block_bytes=st.sampled_from([7, 64, 4096, json_records.BLOCK_BYTES]),
)
def test_the_reader_agrees_with_python_json_on_any_objects_and_layout(objects, block_bytes):
    text = ""
    expected = []
    for value, layout, gap in objects:
        expected.append((text.count("\n") + 1, json.loads(json.dumps(value))))
        text += json.dumps(value, **layout) + gap
    got = [
        (item.line, item.value)
        for item in json_records.read_records(io.BytesIO(text.encode("utf-8", "surrogatepass")), block_bytes)
    ]
    assert got == expected


def bracket(key):
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def python_lookup(value, path):
    """What the path names, the plain Python way (None where it is absent)."""
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and step < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


path_steps = st.lists(keys | st.integers(0, 3), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(record=json_objects, paths=st.lists(path_steps, min_size=1, max_size=6), data=st.data())
def test_the_jsonpaths_mapping_agrees_with_python_lookups(record, paths, data):
    # paths into the record itself, besides random ones that mostly miss
    paths += [[key] for key in record]
    expressions = []
    for path in paths:
        steps = []
        for step in path:
            if isinstance(step, int):
                steps.append(f"[{step}]")
            elif step.isidentifier() and step.isascii() and data.draw(st.booleans()):
                steps.append(f".{step}")
            else:
                steps.append(bracket(step))
        expressions.append("$" + "".join(steps))
    parsed = read_jsonpaths(json.dumps({"jsonpaths": expressions}).encode())
    value = json.loads(json.dumps(record))
    assert [extract(value, path) for path in parsed] == [python_lookup(value, path) for path in paths]


# ---------------------------------------------------------------------------
# A full load that finds no records for a staging table: it would empty the star
# ---------------------------------------------------------------------------


def without_log_data(folder):
    make_source(folder)
    shutil.rmtree(folder / "log_data")
    return folder


def with_an_empty_log_data(folder):
    without_log_data(folder)
    (folder / "log_data").mkdir()
    return folder


def with_empty_log_files(folder):
    return make_source(folder, events_file=b"")


def without_song_data(folder):
    make_source(folder)
    shutil.rmtree(folder / "song_data")
    return folder


NO_RECORDS = [  # (how the source lost its records, the part named, what the line says of it)
    ("log_data/ missing", without_log_data, "log_data/", "no .json file there"),
    ("log_data/ empty", with_an_empty_log_data, "log_data/", "no .json file there"),
    ("every log file empty", with_empty_log_files, "log_data/", "its 1 .json file holds none"),
    ("song_data/ missing", without_song_data, "song_data/", "no .json file there"),
]


@pytest.mark.parametrize("how, build, part, detail", [pytest.param(*row, id=row[0]) for row in NO_RECORDS])
@pytest.mark.parametrize("options", [pytest.param([], id="first run of a new source"),
                                     pytest.param(["--full"], id="--full")])
def test_a_full_load_that_finds_no_records_fails_and_keeps_the_previous_warehouse(
    etl_main, warehouse, previous, tmp_path, how, build, part, detail, options
):
    source = build(tmp_path / "lost")
    code, out, err = etl_main(source, *options)
    failure = FAILURES["a full load that finds no log or song records"]
    assert_clear_failure(code, err, f"source {source} has no {part} records ({detail})", failure.message)
    assert code == failure.exit_code
    assert len(err.strip().splitlines()) == 2, "one line for the error, one to say nothing changed"
    assert state(warehouse) == previous


@pytest.mark.parametrize("how, build, part, detail", [pytest.param(*row, id=row[0]) for row in NO_RECORDS])
def test_allow_empty_loads_a_source_without_records_when_asked(
    etl_main, warehouse, previous, tmp_path, how, build, part, detail
):
    code, out, err = etl_main(build(tmp_path / "lost"), "--full", "--allow-empty")
    assert code == 0, err
    assert "All 14 checks passed" in out
    emptied = "songplay_table" if part == "log_data/" else "song_table"
    assert warehouse.count(emptied) == 0


def test_a_daily_run_with_nothing_new_still_succeeds(etl_main, warehouse, tmp_path):
    source = make_source(tmp_path / "daily")
    assert etl_main(source)[0] == 0
    code, out, err = etl_main(source)
    assert code == 0, err
    assert "nothing new: the warehouse is unchanged" in out


def test_the_allow_empty_option_is_documented_in_the_help(capsys):
    with pytest.raises(SystemExit):
        etl.main(["--help"])
    assert "--allow-empty" in capsys.readouterr().out
