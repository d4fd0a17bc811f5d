"""Records and lines, as the loader stages them: many objects on one line, one object over several.

Redshift's 4 MB limit is for one JSON object, not for a line
(docs/data-contract.md#rejected-records): a line of 80,000 events is 80,000
records, each held to the limit on its own. An object broken across lines is
one rejected record, at the line where it starts. Whichever way the loader
reads a file (whole, or cut into tasks anywhere, its fast paths or its exact
reader), every object is staged or rejected once, at its line.
"""

import json
import tempfile
from pathlib import Path

import pytest
from helpers import event, song, write_source
from hypothesis import given, settings
from hypothesis import strategies as st
from json_layouts import files, words

import etl
from sparkify.engines.local_loader import json_records
from sparkify.engines.local_loader import staging as staging_loader
from sparkify.engines.local_loader.staging import stage_source

EVENTS_FILE = "log_data/2018/11/2018-11-01-events.json"
FIRST_TS = 1541106106796


def small_event(number, **overrides):
    """An event of about 140 bytes: a line of 80,000 of them is 11 MB."""
    return {"auth": "Logged In", "itemInSession": number % 1000, "level": "free", "page": "Home",
            "sessionId": 1 + number // 1000, "ts": FIRST_TS + number, "userId": "7", **overrides}


def run_etl(warehouse, capsys, source, *options):
    """etl.py --full on ``source``, which replaces the previous test's (--replace-source)."""
    code = etl.main(["--dsn", warehouse.dsn, "--source", str(source), "--replace-source", "--full", *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_line_of_80_000_events_is_80_000_records_and_a_bad_one_among_them_is_the_only_one_rejected(
    warehouse, capsys, tmp_path
):
    events = [small_event(number, **({"sessionId": "abc"} if number == 40_000 else {})) for number in range(80_000)]
    line = " ".join(json.dumps(item) for item in events).encode()
    assert len(line) > json_records.MAX_RECORD_BYTES
    source = write_source(tmp_path / "source", songs=[song()])
    (source / EVENTS_FILE).write_bytes(line + b"\n" + json.dumps(small_event(80_000)).encode() + b"\n")

    code, out, err = run_etl(warehouse, capsys, source, "--max-errors", "1")
    assert code == 0, err
    assert warehouse.count("staging_events") == 80_000
    assert warehouse.query("SELECT line_number, column_name FROM rejected_records") == [(1, "session_id")]
    assert warehouse.query("SELECT rows_staged, rows_rejected FROM loaded_files WHERE file_key = %s",
                           (EVENTS_FILE,)) == [(80_000, 1)]


def test_an_event_broken_across_two_lines_is_one_rejected_record_at_its_first_line(
    warehouse, capsys, tmp_path, staging_mode
):
    broken = json.dumps(event(sessionId=8)).replace('"Logged In"', '"Logged\n In"')
    lines = [json.dumps(event(itemInSession=0)), broken, json.dumps(event(itemInSession=2, ts=FIRST_TS + 2000))]
    source = write_source(tmp_path / "source", events=lines, songs=[song()])

    code, out, err = run_etl(warehouse, capsys, source, "--max-errors", "1")
    assert code == 0, err
    assert "rejected records: 1" in out
    assert warehouse.query("SELECT line_number, column_name FROM rejected_records") == [(2, None)]
    assert warehouse.count("staging_events") == 2


LIMIT = 2_000  # the record limit in the property test: an event is about 430 bytes
events = st.builds(lambda title, artist, name: event(song=title, artist=artist, firstName=name), words, words, words)


def numbered(value, number):
    return {**value, "itemInSession": number, "ts": FIRST_TS + number * 1000}


@settings(max_examples=80, deadline=None)
@given(file=files(objects=events, limit=LIMIT, stamp=numbered, max_pieces=8),
       task_bytes=st.sampled_from([None, 37, 500, 4096]))
def test_every_event_is_staged_or_rejected_once_at_its_line_whatever_the_layout(warehouse, file, task_bytes):
    """``task_bytes`` None: the file is read in one piece; else it is cut into tasks of that many bytes."""
    data, expected = file
    good = [value["ts"] for line, value, *_ in expected if isinstance(value, dict)]
    rejected = [line for line, value, *_ in expected if not isinstance(value, dict)]
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_records, "MAX_RECORD_BYTES", LIMIT)
        patch.setattr(staging_loader, "MAX_RECORD_BYTES", LIMIT)
        patch.setattr(staging_loader, "SMALL_FILE_BYTES", LIMIT)  # a file read in one piece is under the limit
        if task_bytes:
            patch.setattr(staging_loader, "SMALL_FILE_BYTES", 0)
            patch.setattr(staging_loader, "TASK_BYTES", task_bytes)
        source = write_source(Path(folder), songs=[song()])
        (source / EVENTS_FILE).write_bytes(data)
        try:
            with warehouse.connection.cursor() as cursor:
                cursor.execute("DELETE FROM staging_events; DELETE FROM rejected_records")
                [events_load, _] = stage_source(cursor, source, max_errors=10**6, workers=0)
                cursor.execute("SELECT ts FROM staging_events ORDER BY ts")
                staged = [ts for (ts,) in cursor.fetchall()]
                cursor.execute("SELECT line_number FROM rejected_records ORDER BY line_number")
                rejected_lines = [line for (line,) in cursor.fetchall()]
        finally:
            warehouse.connection.rollback()
    assert staged == sorted(good)
    assert rejected_lines == sorted(rejected)
    assert (events_load.rows, events_load.rejected_count) == (len(good), len(rejected))
    assert events_load.file_rows == {EVENTS_FILE: len(good)}
