"""Many rejected records: all counted and all kept in rejected_records, only the first held in memory.

Each rejected record goes to the rejected_records table as the loader finds
it, in batches inside the run's transaction. What a run holds and shows (the
summary, ``--json``, a failed load's error) is the first KEPT_REJECTED of
them, next to the count of all of them; the ledger's rows_rejected and the
``--max-errors`` comparison count them all.
"""

import json
import tracemalloc

from helpers import PROJECT_DIR, event, song, write_source

import etl
from sparkify.engines.local_loader import staging as staging_loader
from sparkify.results import KEPT_REJECTED

EVENTS_FILE = "log_data/2018/11/2018-11-01-events.json"
GOOD = [event(itemInSession=item, ts=1541106106796 + item * 1000) for item in range(3)]
BAD = 2 * KEPT_REJECTED + 50


def source_with_bad_events(folder, bad=BAD):
    """The good events, then ``bad`` events whose sessionId is not a number, one per line."""
    write_source(folder, events=GOOD, songs=[song()])
    line = json.dumps(event(sessionId="abc")).encode() + b"\n"
    with open(folder / EVENTS_FILE, "ab") as events_file:
        for _ in range(bad):
            events_file.write(line)
    return folder


def run_etl(warehouse, capsys, source, *options):
    """etl.py --full on ``source``, which replaces the previous test's (--replace-source)."""
    code = etl.main(["--dsn", warehouse.dsn, "--source", str(source), "--replace-source", "--full", *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_rejected_records_beyond_those_kept_are_all_counted_and_all_saved(warehouse, capsys, tmp_path):
    source = source_with_bad_events(tmp_path / "source")
    code, out, err = run_etl(warehouse, capsys, source, "--max-errors", str(BAD), "--json", str(tmp_path / "run.json"))
    assert code == 0, err

    assert f"rejected records: {BAD:,}" in out
    assert f"... and {BAD - 20:,} more: SELECT * FROM rejected_records" in out
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["schema_version"] == 3
    assert document["rejected_count"] == BAD
    assert len(document["rejected_records"]) == KEPT_REJECTED
    assert [record["line"] for record in document["rejected_records"]] == list(range(4, 4 + KEPT_REJECTED))
    assert [step["rejected"] for step in document["steps"] if step["action"] == "rows staged"] == [BAD, 0]

    assert warehouse.query("SELECT COUNT(*), MIN(line_number), MAX(line_number) FROM rejected_records") == [
        (BAD, 4, 3 + BAD)]
    assert warehouse.query("SELECT rows_staged, rows_rejected FROM loaded_files WHERE file_key = %s",
                           (EVENTS_FILE,)) == [(len(GOOD), BAD)]
    assert warehouse.count("staging_events") == len(GOOD)


def test_max_errors_counts_every_rejected_record_and_the_failed_run_says_how_many(warehouse, capsys, tmp_path):
    source = source_with_bad_events(tmp_path / "source")
    code, out, err = run_etl(warehouse, capsys, source, "--max-errors", str(BAD - 1),
                             "--json", str(tmp_path / "run.json"))
    assert code == 1
    assert f"The load stopped: {BAD} rejected record(s), more than --max-errors {BAD - 1}." in err
    document = json.loads((tmp_path / "run.json").read_text())
    assert (document["rejected_count"], len(document["rejected_records"])) == (BAD, KEPT_REJECTED)


def test_rejected_records_sent_in_many_batches_stage_as_in_one(warehouse, tmp_path, monkeypatch, staging_mode):
    """The table's COPY is cut wherever a batch of rejected records is full: no row is lost or doubled."""
    source = source_with_bad_events(tmp_path / "source", bad=40)
    with open(source / EVENTS_FILE, "ab") as events_file:  # good events between and after the bad ones
        for item in range(3, 60):
            events_file.write(json.dumps(event(itemInSession=item, ts=1541106106796 + item * 1000)).encode() + b"\n")
            if item % 5 == 0:
                events_file.write(b"not JSON\n")
    monkeypatch.setattr(staging_loader, "REJECTED_PER_COPY", 7)
    result = warehouse.load(source, max_errors=10**6)
    assert result.committed
    [events, songs] = result.loads
    assert (events.rows, events.rejected_count, songs.rejected_count) == (60, 40 + 11, 0)
    assert warehouse.count("staging_events") == 60
    assert warehouse.query("SELECT COUNT(DISTINCT line_number) FROM rejected_records") == [(51,)]


def test_memory_stays_flat_however_many_records_are_rejected(warehouse, tmp_path, monkeypatch):
    """Six times the rejected records, the same memory: what is held at once is a batch of them.

    The loader's tasks, parse pieces and batches are shrunk, so that what is
    held at once is small beside five thousand rejected records.
    """
    monkeypatch.setattr(staging_loader, "TASK_BYTES", 128 * 1024)
    monkeypatch.setattr(staging_loader, "PARSE_BYTES", 32 * 1024)
    monkeypatch.setattr(staging_loader, "REJECTED_PER_COPY", 500)

    def peak_for(bad):
        source = source_with_bad_events(tmp_path / f"source-{bad}", bad=bad)
        tracemalloc.start()
        try:
            result = warehouse.load(source, max_errors=10**6)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.committed and result.loads[0].rejected_count == bad
        assert len(result.rejected) == KEPT_REJECTED
        assert warehouse.count("rejected_records") == bad
        return peak

    few, many = peak_for(1_000), peak_for(6_000)
    assert many < few + 2 * 1024 * 1024, f"peak {few:,} bytes for 1,000 rejected records, {many:,} for 6,000"


def test_the_number_kept_is_the_one_the_docs_give():
    page = (PROJECT_DIR / "docs" / "run-results.md").read_text(encoding="utf-8")
    assert f"the first {KEPT_REJECTED} rejected records" in page
    assert f"only the first {KEPT_REJECTED}\nof them" in page
