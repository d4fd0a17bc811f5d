"""What the scripts print reads the same everywhere: one table formatter, one "load stopped" message, progress
that ends as it says."""

import datetime
import decimal
import io

from hypothesis import example, given
from hypothesis import strategies as st

import sql_queries as q
from sparkify.engines import redshift_load_errors
from sparkify.engines.local_loader import staging
from sparkify.engines.redshift import reject_ts_out_of_range
from sparkify.engines.user_sql import Result
from sparkify.output import query, report
from sparkify.results import LoadError, RejectedRecord, TableLoad

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3), st.text(max_size=12),
    st.datetimes(), st.dates(),
)


TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2fff, exclude_categories=("Cs", "Cc")), max_size=8)


@given(rows=st.integers(1, 3).flatmap(lambda width: st.lists(st.tuples(*[TEXT] * width), max_size=4)))
@example(rows=[("\u2066",)])  # a bidirectional isolate: escaped by both, the width of its escape
@example(rows=[("a\u2028b", "\u202e")])  # a line separator and an override
@example(rows=[("\x1b[2J", "\tx\r\n")])  # ESC, a tab, a carriage return, a newline
def test_query_py_and_the_summary_print_a_table_alike(rows):
    """query.py's table (the server's text, streamed) and the summary's align a batch of text alike."""
    headers = [f"c{i}" for i in range(len(rows[0]) if rows else 1)]
    out = io.StringIO()
    query.TablePrinter(out).rows(Result(None, headers, [False] * len(headers), iter([rows] if rows else [])))
    table, count = out.getvalue().rstrip("\n").rsplit("\n", 1)
    assert table == report.table(rows, headers, ["<"] * len(headers))
    assert count == query.row_count(len(rows))


def test_a_boolean_a_null_and_a_number_read_the_same_in_every_table():
    rows = [(True, None, 2018, decimal.Decimal("1.50"), datetime.date(2018, 11, 1)), (False, "x", 7, None, None)]
    assert report.table(rows, ["a", "b", "c", "d", "e"]).splitlines()[2:] == [
        "true      2,018  1.50  2018-11-01",
        "false  x      7",
    ]


# Source text that would act on a terminal: ESC sequences, a carriage return, a bidirectional override.
HOSTILE = "\x1b[2J\rAll 14 checks passed \u202e"


def record(raw):
    return RejectedRecord("staging_events", "s3://b/log_data/x.json", 3, "ts", "bad", None, raw)


class StagedOutOfRange:
    """A cursor over a staging table holding one event whose ts is out of range (redshift.py's check)."""

    def __init__(self, artist):
        self.row = tuple({"artist": artist, "ts": 10 ** 15}.get(column) for column in q.COLUMNS["staging_events"])
        self.rows = []

    def execute(self, statement, params=None):
        self.rows = [(1,)] if statement.lstrip().startswith("SELECT COUNT") else [self.row]

    def fetchone(self):
        return self.rows[0]

    def fetchall(self):
        return self.rows


def stopped_messages():
    """The message of a load stopped by a rejected record holding HOSTILE, on each path that writes one."""
    messages = [redshift_load_errors.failure_message("staging_events", "Load failed", [record(HOSTILE)], 0)]
    try:
        reject_ts_out_of_range(StagedOutOfRange(HOSTILE), TableLoad("staging_events"), "staging_events", 0, "x")
    except LoadError as error:
        messages.append(str(error))
    result = TableLoad("staging_events")
    try:
        staging.RejectedRows(result, 0).add(record(HOSTILE))
    except LoadError as error:
        messages.append(str(error))
    return messages


def test_the_load_stopped_message_is_the_same_on_every_path_and_escapes_the_record():
    messages = stopped_messages()
    assert len(messages) == 3
    for message in messages:
        lines = message.splitlines()
        assert all(line.isprintable() for line in lines), lines
        assert lines[-1].startswith("The load stopped: 1 rejected record(s), more than --max-errors 0")
        assert lines[-1].endswith(". Fix the source, or rerun with --max-errors N to load the good records and "
                                  "keep the rejected ones in rejected_records.")
        [shown] = [line for line in lines if line.startswith("  record: ")]
        assert "All 14 checks passed \\u202e" in shown  # the override escaped, whatever else quoted the record


def test_progress_in_a_log_ends_with_the_closing_line_it_promises():
    stream = io.StringIO()
    progress = report.PlainProgress("staging", stream, every=0)
    progress.total = 2048
    progress.update(1024)
    progress.update(1024)
    progress.close()
    progress.close()  # once
    assert stream.getvalue().splitlines() == [
        "staging: 1.0 KB of 2.0 KB read (50%)",
        "staging: 2.0 KB of 2.0 KB read (100%)",
        "staging: 2.0 KB of 2.0 KB read (100%)",
    ]


def test_a_short_load_prints_no_progress_at_all():
    stream = io.StringIO()
    progress = report.PlainProgress("staging", stream, every=3600)
    progress.total = 10
    progress.update(10)
    progress.close()
    assert stream.getvalue() == ""
