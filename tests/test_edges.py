"""Trust at the edges (issue 16): hostile values and odd sources give rejected records or one clear line.

Each test stages a small source with the local loader (``stage_source``) as
etl.py does, in the three ways a source is split (``staging_mode``): a value
the warehouse cannot hold is a rejected record with its file, line and
column, whatever its size; nothing from the source reaches a message raw;
no file is skipped without a word.
"""

import json
import os
from datetime import UTC

import pytest
from helpers import JSONPATHS, event, song, write_source

from sparkify.engines.local_loader import json_records
from sparkify.engines.local_loader import staging as staging_loader
from sparkify.engines.local_loader.row_encoder import Column, RowEncoder
from sparkify.engines.local_loader.staging import LoadError, RejectedRecord, stage_source
from sparkify.output.printable import clip, printable
from sparkify.sources import SourceError
from sparkify.sources.folder import LocalSource
from sparkify.value_ranges import TS_MAX_MS, TS_MIN_MS

EVENTS_FILE = "log_data/2018/11/2018-11-01-events.json"
GOOD = [event(itemInSession=item, ts=1541106106796 + item * 1000) for item in range(3)]


def events_with(*lines) -> bytes:
    """The good events with ``lines`` (bytes, or a dict as JSON) between the first and the last."""
    middle = [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    return b"\n".join([json.dumps(GOOD[0]).encode(), *middle, json.dumps(GOOD[2]).encode()]) + b"\n"


@pytest.fixture
def stage(warehouse, tmp_path):
    """Stage a source written from (events file bytes, songs): (loads, rejected records)."""
    counter = iter(range(1000))

    def run(events_file=None, songs=None, max_errors=50, folder=None):
        if folder is None:
            folder = tmp_path / f"source{next(counter)}"
            write_source(folder, events=GOOD, songs=[song()] if songs is None else songs)
            if events_file is not None:
                (folder / EVENTS_FILE).write_bytes(events_file)
        with warehouse.connection.cursor() as cursor:
            try:
                loads = stage_source(cursor, folder, max_errors=max_errors)
                rejected = [record for load in loads for record in load.rejected]
                cursor.execute("SELECT COUNT(*) FROM rejected_records")  # their columns must hold them
                assert cursor.fetchone()[0] == len(rejected) == sum(load.rejected_count for load in loads)
                cursor.execute("SELECT song FROM staging_events ORDER BY ts")
                loads[0].songs = [row[0] for row in cursor.fetchall()]
                return loads, rejected
            finally:
                warehouse.connection.rollback()

    return run


def the_one_rejected(rejected, line, column):
    assert [(record.line_number, record.column_name) for record in rejected] == [(line, column)], [
        record.describe() for record in rejected
    ]
    return rejected[0]


# ---------------------------------------------------------------------------
# 3. A ts the transform cannot hold is a rejected record
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ts", [
    1_000_000_000_000_000, 2**62, 2**63 - 1, -(2**63), TS_MAX_MS + 1, TS_MIN_MS - 1, "1000000000000000",
])
def test_a_ts_outside_the_contract_is_a_rejected_record_with_its_place(stage, staging_mode, ts):
    loads, rejected = stage(events_with(event(ts=ts)))
    record = the_one_rejected(rejected, 2, "ts")
    assert "0001-01-01 to 9999-12-31" in record.reason
    assert loads[0].rows == 2


@pytest.mark.parametrize("ts", [TS_MIN_MS, TS_MAX_MS, 0, str(TS_MAX_MS)])
def test_a_ts_at_the_edges_of_the_contract_is_staged(stage, staging_mode, ts):
    loads, rejected = stage(events_with(event(ts=ts)))
    assert rejected == [] and loads[0].rows == 3


def test_the_ts_bounds_are_the_first_and_last_millisecond_of_years_1_and_9999():
    from datetime import datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    millisecond = timedelta(milliseconds=1)
    assert epoch + TS_MIN_MS * millisecond == datetime(1, 1, 1, tzinfo=UTC)
    assert epoch + TS_MAX_MS * millisecond == datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def test_the_transform_holds_every_ts_the_contract_allows(warehouse):
    """The edges of the range through START_TIME and time_table's SMALLINT columns, on the database."""
    from sql_queries import START_TIME

    with warehouse.connection.cursor() as cursor:
        for ts in (TS_MIN_MS, TS_MAX_MS):
            cursor.execute(
                f"SELECT EXTRACT(year FROM t)::SMALLINT, EXTRACT(week FROM t)::SMALLINT "
                f"FROM (SELECT {START_TIME} AS t FROM (SELECT %s::BIGINT AS ts) AS s) AS x",
                (ts,),
            )
            assert cursor.fetchone()[0] in (1, 9999)
    warehouse.connection.rollback()


# ---------------------------------------------------------------------------
# 4, 5. A long bad value fits rejected_records; a long digit string is out of range
# ---------------------------------------------------------------------------

LONG_VALUES = [
    pytest.param("x" * 1100, id="1,100 x"),
    pytest.param("\u00e9" * 700, id="700 two-byte characters"),
    pytest.param("\U0001f483" * 400, id="400 four-byte characters"),
    pytest.param("1" * 1000, id="a string of 1,000 digits"),
    pytest.param("9" * 5000, id="a string of 5,000 digits (over Python's int() limit)"),
    pytest.param("-" + "9" * 4400, id="a negative string of 4,400 digits"),
]


@pytest.mark.parametrize("value", LONG_VALUES)
def test_a_long_bad_value_is_a_rejected_record_that_fits_rejected_records(stage, staging_mode, value):
    loads, rejected = stage(events_with(event(sessionId=value)))
    record = the_one_rejected(rejected, 2, "session_id")
    assert len(record.reason.encode()) <= 300, "a reason quotes a short excerpt of the value"
    assert len(record.raw_value.encode()) <= 1024
    assert loads[0].rows == 2


@pytest.mark.parametrize("digits", [1000, 4301, 10000])
@pytest.mark.parametrize("column, key", [("session_id", "sessionId"), ("ts", "ts"), ("length", "length")])
def test_a_json_number_of_thousands_of_digits_is_out_of_range(stage, staging_mode, digits, column, key):
    line = json.dumps(event()).replace('"sessionId": ', '"sessionId": ', 1).encode()
    number = b"7" * digits
    line = line.replace(f'"{key}": '.encode(), f'"{key}": '.encode() + number + b', "was": ', 1)
    loads, rejected = stage(events_with(line))
    record = the_one_rejected(rejected, 2, column)
    assert "out of range" in record.reason
    assert len(record.reason.encode()) <= 300


@pytest.mark.parametrize("text, limit", [
    ("x" * 2000, 1024), ("\u00e9" * 600, 1024), ("\u00e9" * 600, 1023), ("\U0001f483" * 300, 1024),
    ("a\ud800b" * 400, 1024), ("short", 1024),
])
def test_clip_cuts_by_utf8_bytes_at_a_character_and_says_so(text, limit):
    clipped = clip(text, limit)
    data = clipped.encode("utf-8")  # strict: no half character, no surrogate
    assert len(data) <= limit
    if text == "short":
        assert clipped == text
    else:
        assert clipped.endswith("\u2026")


def test_a_rejected_record_is_cut_to_rejected_records_columns():
    huge = RejectedRecord("staging_events", "f.json", 1, "song", "r" * 5000, "\u00e9" * 5000, "\U0001f483" * 70000)
    assert len(huge.reason.encode()) <= 1024
    assert len(huge.raw_value.encode()) <= 1024
    assert len(huge.raw_record.encode()) <= 65535
    assert huge.raw_record.endswith("\u2026")


# ---------------------------------------------------------------------------
# 7. A line longer than a task is one record, and the lines after it keep their numbers
# ---------------------------------------------------------------------------


@pytest.fixture(params=["in this process, small limits", "worker processes, real limits"])
def limits(request, monkeypatch):
    """(task bytes, record limit): shrunk in this process so that lines of kilobytes show the cases;
    worker processes import the loader afresh, so they are shown with the real 4 MB limit."""
    monkeypatch.setattr(staging_loader, "SMALL_FILE_BYTES", 0)
    if request.param.startswith("in this process"):
        task, limit = 1024, 4096
        monkeypatch.setattr(staging_loader, "MAX_RECORD_BYTES", limit)
        monkeypatch.setattr(json_records, "MAX_RECORD_BYTES", limit)
        monkeypatch.setattr(staging_loader, "default_workers", lambda: 0)
    else:
        task, limit = 1024 * 1024, json_records.MAX_RECORD_BYTES
        monkeypatch.setattr(staging_loader, "default_workers", lambda: 2)
    monkeypatch.setattr(staging_loader, "TASK_BYTES", task)
    monkeypatch.setattr(staging_loader, "PARALLEL_MIN_BYTES", 0)
    return task, limit


LONG_LINES = [  # (how, bytes as a multiple of the limit: 0.75 is over three tasks, rejected first)
    ("a good line over a task", 0.75, False),
    ("a good line over the record limit", 1.5, True),
    ("a good line of ten times the limit", 10, True),
    ("an unterminated line over the limit", 1.5, True),
    ("an unterminated line over a task", 0.75, True),
]


@pytest.mark.parametrize("how, size, rejected_first", LONG_LINES, ids=[row[0] for row in LONG_LINES])
def test_a_line_longer_than_a_task_is_one_record_and_the_lines_after_keep_their_numbers(
    stage, limits, how, size, rejected_first
):
    task, limit = limits
    padding = "y" * int(size * limit)
    long_line = json.dumps(event(padding=padding)).encode()
    if how.startswith("an unterminated"):
        long_line = b'{"song": "' + padding.encode()
    lines = [json.dumps(GOOD[0]).encode()] * 15 + [long_line, json.dumps(event(sessionId="abc")).encode(),
                                                   json.dumps(GOOD[2]).encode()]
    loads, rejected = stage(b"\n".join(lines) + b"\n")
    expected = [(16, None)] if rejected_first else []
    assert [(record.line_number, record.column_name) for record in rejected] == expected + [(17, "session_id")]
    if rejected_first and size > 1:
        assert "larger than the limit" in rejected[0].reason
    assert loads[0].rows == 16 + (0 if rejected_first else 1)


# ---------------------------------------------------------------------------
# 10. A JSON number in a text column is stored as written
# ---------------------------------------------------------------------------

WRITTEN = [b"1.10", b"1e400", b"-1E-400", b"18446744073709551616", b"123456789012345678901234567890", b"-0",
           b"0.1000000000000000055511151231257827021181583404541015625", b"7" * 1000]


@pytest.mark.parametrize("number", WRITTEN, ids=[number[:30].decode() for number in WRITTEN])
def test_a_number_in_a_text_column_is_stored_as_written(stage, staging_mode, number):
    line = json.dumps(event(song="PLACEHOLDER")).encode().replace(b'"PLACEHOLDER"', number)
    loads, rejected = stage(events_with(line))
    assert rejected == [], [record.describe() for record in rejected]
    assert number.decode() in loads[0].songs


def test_a_number_in_a_song_files_text_column_is_stored_as_written(stage, warehouse, staging_mode):
    text = json.dumps(song(title="PLACEHOLDER")).replace('"PLACEHOLDER"', "1.10")
    loads, rejected = stage(songs=[text])
    assert rejected == [] and loads[1].rows == 1


def test_a_number_in_a_text_column_is_kept_as_written_by_the_encoder():
    encoder = RowEncoder([Column("title", "character varying", 256, True)], [("title",)])
    data, rejected = encoder.encode([{"title": 1.1}], texts=[b'{"title": 1.10}'])
    assert data == b'"1.10"\n' and rejected == []


# ---------------------------------------------------------------------------
# 12. Source bytes never reach the terminal raw
# ---------------------------------------------------------------------------

HOSTILE = ["\x1b[2J\x1b[HAll 14 checks passed", "carriage\rreturn", "new\nline", "bell\x07", "\x9b31m",
           "\u202eevil", "\udcff"]


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_escapes_what_could_act_on_a_terminal(text):
    shown = printable(text)
    assert shown.isprintable() and "\n" not in shown
    assert shown.encode("utf-8")


@pytest.mark.parametrize("text", HOSTILE)
def test_a_rejected_records_message_shows_no_raw_control_character(stage, staging_mode, text):
    loads, rejected = stage(events_with(event(sessionId=text)))
    record = the_one_rejected(rejected, 2, "session_id")
    assert record.describe().isprintable()
    with pytest.raises(LoadError) as failure:
        stage(events_with(event(sessionId=text)), max_errors=0)
    assert all(line.isprintable() for line in str(failure.value).splitlines())
    assert "\x1b" not in str(failure.value) and "\r" not in str(failure.value)


# ---------------------------------------------------------------------------
# 8, 9, 13. The source: odd names and files are named, never a traceback, never skipped silently
# ---------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_staged_and_shown_escaped(stage, tmp_path):
    folder = tmp_path / "odd-name"
    write_source(folder, events=GOOD, songs=[song()])
    name = os.fsencode(folder / "log_data" / "2018" / "11") + b"/bad-\xff\x1b[2J.json"
    with open(name, "wb") as stream:
        stream.write(json.dumps(event(sessionId="abc")).encode() + b"\n")
    loads, rejected = stage(folder=folder)
    [record] = rejected
    assert record.source_file.encode("utf-8")  # storable
    assert record.describe().isprintable()
    assert "\\xff" in record.describe()
    listed = LocalSource(folder).files("log_data")
    assert sorted(item.name for item in listed) == sorted(load for load in loads[0].file_rows)


def test_a_symlink_loop_under_song_data_is_one_clear_line(tmp_path):
    folder = tmp_path / "loop"
    write_source(folder, events=GOOD, songs=[song()])
    os.symlink(".", folder / "song_data" / "A" / "loop")
    os.symlink("loop2", folder / "song_data" / "loop2")
    source = LocalSource(folder)
    try:
        source.files("song_data")
    except SourceError as error:
        assert "song_data/loop2" in str(error) and "\n" not in str(error)
    else:
        assert "song_data/loop2" in " ".join(source.warnings)


def test_log_json_path_as_a_directory_is_one_clear_line(stage, tmp_path):
    folder = tmp_path / "dir-jsonpaths"
    write_source(folder, events=GOOD, songs=[song()], jsonpaths=None)
    (folder / "log_json_path.json").mkdir()
    with pytest.raises(LoadError) as failure:
        stage(folder=folder)
    assert "log_json_path.json is a directory" in str(failure.value)


@pytest.mark.parametrize("suffix", [".JSON", ".Json", ".jSoN"])
def test_files_named_json_in_any_case_are_staged(stage, tmp_path, suffix):
    folder = tmp_path / "upper"
    write_source(folder, events=GOOD, songs=[song()])
    (folder / EVENTS_FILE).rename(folder / EVENTS_FILE.replace(".json", suffix))
    loads, rejected = stage(folder=folder)
    assert loads[0].rows == 3


def test_dangling_symlinks_and_fifos_are_named_in_a_warning_never_a_hang(tmp_path):
    folder = tmp_path / "odd-files"
    write_source(folder, events=GOOD, songs=[song()])
    os.symlink("nowhere.json", folder / "log_data" / "dangling.json")
    os.mkfifo(folder / "log_data" / "pipe.json")
    source = LocalSource(folder)
    names = [item.name for item in source.files("log_data")]
    assert names == [EVENTS_FILE]
    warnings = " ".join(source.warnings)
    assert "log_data/dangling.json" in warnings and "log_data/pipe.json" in warnings


def test_a_column_null_in_every_staged_row_is_reported(stage, tmp_path):
    folder = tmp_path / "typo"
    paths = json.loads(json.dumps(JSONPATHS))
    paths["jsonpaths"][0] = "$['artistt']"  # a typo
    write_source(folder, events=GOOD, songs=[song()], jsonpaths=paths)
    loads, rejected = stage(folder=folder)
    assert loads[0].all_null_columns == ["artist"]
    assert loads[1].all_null_columns == []


def test_a_file_path_over_1024_bytes_is_one_clear_error_naming_it(stage, tmp_path):
    folder = tmp_path / "deep"
    write_source(folder, events=GOOD, songs=[song()])
    deep = folder / "log_data"
    for _ in range(6):
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    (deep / "events.json").write_bytes(json.dumps(GOOD[0]).encode())
    with pytest.raises(LoadError) as failure:
        stage(folder=folder)
    message = str(failure.value)
    assert "longer than 1024 bytes" in message and "events.json" in message and "\n" not in message
