"""Redshift's rejected records, as AWS documents them: --max-errors N means N, every one is counted, only this run's.

The fake connection (fake_redshift.FakeRedshift) runs COPY and answers the
load-error views as the documentation says: MAXERROR's threshold, the views'
rows whatever the query asks of them, a process id that an older session had,
SYS_LOAD_HISTORY rows that arrive with their COPY or never do. Each rule it
models cites its page.

- ``--max-errors N``: exactly N bad records of a table load and N+1 fail, on
  both engines (COPY fails at MAXERROR errors or more: it runs with N+1);
- every rejected record is counted (in the summary, the ledger, against
  --max-errors), not the thousand that are read at a time, and every one is
  kept in rejected_records;
- the load errors and the row counts read are this run's, for this table:
  never an older session's with the same process id, and a COPY that
  Redshift did not record is an error, not an unknown count.
"""

import re

import pytest
from fake_redshift import FakeRedshift, redshift_config, sys_load_error_row, write_config
from helpers import event, run_script, song, write_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkify import api
from sparkify.engines import redshift
from sparkify.engines import redshift_load_errors as load_errors
from sparkify.output.summary import summary
from sparkify.results import LoadError
from sparkify.run.ledger import Choice, ledger_statements
from sparkify.sources import SourceFile

SERVERLESS_HOST = "sparkify.123456789012.us-west-2.redshift-serverless.amazonaws.com"
FLAVOURS = pytest.mark.parametrize(
    "target", [redshift_config(), redshift_config(CLUSTER__HOST=SERVERLESS_HOST)], ids=["provisioned", "serverless"])
LOG_DATA = "s3://udacity-dend/log_data/2018/11"
FAR_FUTURE = {"ts": 253_402_300_800_000, "session_id": 7, "item_in_session": 1, "user_id": 9, "page": "NextSong"}


def bad_records(count, days=1):
    """``count`` rows of load errors, as Redshift records them, spread over ``days`` log files."""
    return [
        sys_load_error_row(f"{LOG_DATA}/2018-11-{number % days + 1:02d}-events.json", number + 2, "session_id",
                           "Invalid digit, Value 'a', Pos 0, Type: Integer", raw_value="abc",
                           raw_line='{"sessionId": "abc"}')
        for number in range(count)
    ]


def events_with(bad, **options):
    return FakeRedshift(load_errors=bad, errors_for={"staging_events"}, **options)


# ---------------------------------------------------------------------------
# The fake's own rules
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("maxerror, errors, loads", [
    (0, 0, True), (0, 1, False), (1, 1, False), (2, 1, True), (2, 2, False), (100_000, 99_999, True),
])
def test_the_fake_copy_fails_at_maxerror_errors_or_more_as_documented(maxerror, errors, loads):
    """copy-parameters-data-load.html: "If the load returns the error_count number of errors or greater,
    the load fails ... Set this value to 0 or 1 if you want the load to fail as soon as the first error occurs"."""
    fake = FakeRedshift(load_errors=bad_records(1) * errors)
    statement = f"COPY staging_events FROM 's3://b/log_data' IAM_ROLE 'r' FORMAT AS JSON 'auto' MAXERROR {maxerror}"
    if loads:
        fake.cursor().execute(statement)
    else:
        with pytest.raises(Exception, match="Load into table 'staging_events' failed"):
            fake.cursor().execute(statement)
    cursor = fake.cursor()
    with pytest.raises(Exception, match="current transaction is aborted") if not loads else _nothing():
        cursor.execute("SELECT COUNT(*) FROM stl_load_errors")
    fake.rollback()
    cursor.execute("SELECT COUNT(*) FROM stl_load_errors")
    assert cursor.fetchone() == (errors,)  # every error is recorded, whether the load failed or not


def test_the_fake_refuses_a_maxerror_above_the_limit():
    with pytest.raises(Exception, match="MAXERROR argument must be between 0 and 100000"):
        FakeRedshift().cursor().execute("COPY staging_songs FROM 's3://b/song_data' MAXERROR 100001")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------
# --max-errors N: N load, N+1 fail, on both engines
# ---------------------------------------------------------------------------


@FLAVOURS
@pytest.mark.parametrize("max_errors", [0, 1, 5])
def test_max_errors_n_loads_exactly_n_bad_records(target, max_errors):
    fake = events_with(bad_records(max_errors))
    result = api.run(fake, "redshift", None, max_errors, settings=target)
    assert result.committed
    assert result.loads[0].rejected_count == max_errors == len(result.loads[0].rejected)
    assert f"MAXERROR {max_errors + 1}\n" in next(s for s in fake.sent if s.lstrip().startswith("COPY"))


@FLAVOURS
@pytest.mark.parametrize("max_errors", [0, 1, 5])
def test_max_errors_n_fails_at_the_next_bad_record(target, max_errors):
    fake = events_with(bad_records(max_errors + 1))
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, max_errors, settings=target)
    assert (f"The load stopped: {max_errors + 1} rejected record(s), more than --max-errors {max_errors} "
            "(Redshift said: Load into table 'staging_events' failed.") in str(failure.value)
    assert failure.value.rejected_count == max_errors + 1
    assert "COMMIT" not in fake.sent


def test_the_largest_max_errors_is_the_largest_maxerror_less_one():
    """COPY accepts MAXERROR up to 100,000: --max-errors 99,999 runs with it, 100,000 is refused."""
    fake = events_with(bad_records(3))
    assert api.run(fake, "redshift", None, redshift.MAX_ERRORS, settings=redshift_config()).committed
    assert "MAXERROR 100000\n" in next(s for s in fake.sent if s.lstrip().startswith("COPY"))
    with pytest.raises(Exception, match="--max-errors must be between 0 and 99,999 on Redshift"):
        api.run(FakeRedshift(), "redshift", None, redshift.MAX_ERRORS + 1, settings=redshift_config())


def test_a_copy_that_rejected_more_than_max_errors_without_failing_fails_the_run():
    """"The actual number of errors reported might be greater than the specified MAXERROR": the run counts
    them after the COPY and holds the line itself."""
    fake = events_with(bad_records(4))
    fake.copy_limit = lambda maxerror: 10  # a Redshift that let more through than MAXERROR says
    with pytest.raises(LoadError, match=r"The load stopped: 4 rejected record\(s\), more than --max-errors 2\. "):
        api.run(fake, "redshift", None, 2, settings=redshift_config())
    assert "COMMIT" not in fake.sent


def test_the_dry_run_shows_the_maxerror_that_makes_five_bad_records_load_and_six_fail(tmp_path):
    config = write_config(tmp_path / "dwh.cfg", redshift_config())
    result = run_script("etl.py", "--dry-run", "--engine", "redshift", "--max-errors", "5", "--config", config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\nMAXERROR 6\n") == 2
    assert ("-- --max-errors 5: each COPY runs with MAXERROR 6, as COPY fails at 6 rejected records or more:\n"
            "-- 5 bad record(s) of a table load, 6 fail the run.") in result.stdout


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.integers(0, 4), max_errors=st.integers(0, 4))
def test_max_errors_means_the_same_on_both_engines(warehouse, tmp_path_factory, bad, max_errors):
    """The same source, the same --max-errors: the local loader and Redshift both commit, or both stop."""
    folder = write_source(tmp_path_factory.mktemp("max_errors"),
                          events=[event()] + [event(itemInSession=n + 2, sessionId="abc") for n in range(bad)],
                          songs=[song()])
    try:
        local = warehouse.load(folder, max_errors=max_errors).committed
    except LoadError:
        local = False
    try:
        on_redshift = api.run(events_with(bad_records(bad)), "redshift", None, max_errors,
                              settings=redshift_config()).committed
    except LoadError:
        on_redshift = False
    assert local == on_redshift == (bad <= max_errors)


# ---------------------------------------------------------------------------
# Every rejected record counted, and kept
# ---------------------------------------------------------------------------


@FLAVOURS
def test_more_than_a_thousand_rejected_records_are_all_counted_and_kept(target):
    fake = events_with(bad_records(2_500, days=3))
    result = api.run(fake, "redshift", None, 3_000, settings=target)
    [events, songs] = result.loads
    assert (events.rejected_count, len(events.rejected), songs.rejected_count) == (2_500, load_errors.KEPT, 0)
    assert events.rejected_by_file == {f"{LOG_DATA}/2018-11-0{day}-events.json": count
                                       for day, count in ((1, 834), (2, 833), (3, 833))}
    assert "rejected records: 2,500" in summary(result)
    kept = [row for statement in fake.sent if statement.startswith("INSERT INTO rejected_records")
            for row in statement.split("\n")[2:]]
    assert len(kept) == 2_500 and len({re.search(r"', (\d+), 'session_id'", row).group(1) for row in kept}) == 2_500
    # the ledger counts them all, per file
    files = [SourceFile(f"log_data/2018/11/2018-11-0{day}-events.json", 1, None, "v") for day in (1, 2, 3)]
    choice = Choice(source="s3://udacity-dend", full=True, reason="", files={"log_data": files, "song_data": []})
    [_, (_, values)] = ledger_statements(choice, result.loads)
    width = len(values) // len(files)  # each file's row: ..., rows_staged, rows_rejected, loaded_at
    assert [values[row * width + width - 2] for row in range(len(files))] == [834, 833, 833]


def test_the_ts_range_check_holds_every_rejected_record_against_max_errors():
    """1,500 records COPY rejected and one ts out of range are 1,501, more than --max-errors 1,500."""
    fake = events_with(bad_records(1_500), out_of_range=[FAR_FUTURE])
    with pytest.raises(LoadError, match=r"The load stopped: 1501 rejected record\(s\), more than --max-errors 1500"):
        api.run(fake, "redshift", None, 1_500, settings=redshift_config())
    assert api.run(events_with(bad_records(1_500), out_of_range=[FAR_FUTURE]), "redshift", None, 1_501,
                   settings=redshift_config()).loads[0].rejected_count == 1_501


@FLAVOURS
def test_a_failed_copy_says_how_many_it_rejected_not_how_many_were_read(target):
    fake = events_with(bad_records(1_234))
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 7, settings=target)
    lines = str(failure.value).splitlines()
    assert lines[-2].startswith("  ... and 1224 more: SELECT * FROM ")
    assert lines[-1].startswith("The load stopped: 1234 rejected record(s), more than --max-errors 7")
    assert failure.value.rejected_count == 1_234 and len(failure.value.rejected) == load_errors.KEPT


# ---------------------------------------------------------------------------
# This run's load errors and row counts, never another session's
# ---------------------------------------------------------------------------


@FLAVOURS
def test_a_copy_that_could_not_read_s3_is_not_shown_an_earlier_sessions_load_errors(target):
    """PG_BACKEND_PID.html: "The PID is not globally unique. It can be reused over time"."""
    fake = FakeRedshift(fail="staging_events")
    fake.earlier_session(errors=bad_records(3))
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=target)
    assert "Redshift recorded no rejected record for it, so it could not read the files" in str(failure.value)
    assert failure.value.rejected == []


@FLAVOURS
def test_rejected_records_are_this_runs_not_an_earlier_sessions(target):
    fake = FakeRedshift()
    fake.earlier_session(errors=bad_records(3))
    result = api.run(fake, "redshift", None, 5, settings=target)
    assert result.committed and result.rejected_count == 0


def test_a_missing_sys_load_history_row_is_an_error_not_an_earlier_sessions_row():
    """On Serverless the COPY's row count comes from SYS_LOAD_HISTORY: a row that did not arrive is not
    replaced by an older session's, nor by an unknown count that would switch the empty-load check off."""
    target = redshift_config(CLUSTER__HOST=SERVERLESS_HOST)
    fake = FakeRedshift(history_missing={"staging_events"})
    fake.earlier_session(errors=bad_records(2), rows=5)
    with pytest.raises(LoadError, match=r"staging_events: the COPY into staging_events succeeded, but "
                                        r"sys_load_history \(no row of this session for that table after the "
                                        r"run's previous COPY\) does not show it"):
        api.run(fake, "redshift", None, 5, settings=target)
    assert "COMMIT" not in fake.sent
    with pytest.raises(LoadError, match="does not show it"):
        api.run(FakeRedshift(history_missing={"staging_songs"}), "redshift", None, 0, settings=target)


def test_each_lookup_is_bounded_by_the_run_and_the_table():
    fake = FakeRedshift()
    api.run(fake, "redshift", None, 0, settings=redshift_config(CLUSTER__HOST=SERVERLESS_HOST))
    lookups = [statement for statement in fake.sent if "sys_load_history" in statement]
    assert lookups[0].strip().startswith("SELECT COALESCE(MAX(query_id), -1)")  # where the run begins
    assert "AND query_id > -1\n    AND TRIM(table_name) = 'staging_events'" in lookups[1]
    assert "AND query_id > 101\n    AND TRIM(table_name) = 'staging_songs'" in lookups[3]
