"""Against a real Redshift (docs/live-tests.md): what the fakes of tests/test_redshift_path.py cannot show.

Skipped, with the reason, unless REDSHIFT_TEST_DSN, REDSHIFT_TEST_S3_PREFIX and
REDSHIFT_TEST_IAM_ROLE are set. Every test runs on the flavour the DSN's host
is (a provisioned cluster, or Serverless); test_the_flavour says which.
No stub anywhere: each test passes only if Redshift behaves as the code assumes.
"""

import threading
import time
from datetime import datetime

import pytest
from live_redshift import NEEDS_A_WAREHOUSE, event, lines, live_fixture, song  # noqa: F401  (the fixture "live")

from sparkify import api
from sparkify.checks.reconciliation import run_checks
from sparkify.engines import RedshiftEngine
from sparkify.results import LoadError
from sql_queries import column_list

pytestmark = NEEDS_A_WAREHOUSE
EVENTS = "2018-11-01-events.json"


def test_the_flavour(live, record_property):
    """The engine's flavour for this endpoint, and the load-error view it reads there."""
    engine = RedshiftEngine(live.config())
    record_property("flavour", engine.views.name)
    connection = live.connect()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {engine.views.view} WHERE 1 = 0")
        assert cursor.fetchone() == (0,)
    connection.rollback()


def test_two_overlapping_daily_runs_stage_the_new_files_once(live):
    root = live.upload("source", {EVENTS: lines(event(), event(itemInSession=2, ts=1541106206796))}, [song()])
    config = live.config()
    holder = live.connect()
    with holder.cursor() as cursor:
        cursor.execute("LOCK staging_events")  # held: both runs below must wait for it at their first statement
    results, errors = [], []

    def daily():
        try:
            results.append(api.run(live.connect(), "redshift", root, 0, settings=config, full=False))
        except Exception as error:  # reported below
            errors.append(error)

    runs = [threading.Thread(target=daily) for _ in range(2)]
    for run in runs:
        run.start()
    time.sleep(15)
    assert all(run.is_alive() for run in runs), "a run did not wait for the LOCK"
    holder.commit()
    for run in runs:
        run.join(900)
    assert not errors, errors
    assert sorted(bool(result.nothing_new) for result in results) == [False, True]
    assert live.query("SELECT COUNT(*) FROM loaded_files") == [(2,)]
    assert live.query("SELECT COUNT(*) FROM staging_events") == [(2,)]
    assert live.query("SELECT COUNT(*) FROM songplay_table") == [(2,)]


@pytest.mark.parametrize("max_errors", [0, 5])
def test_a_bad_record_under_maxerror(live, max_errors):
    bad = event(itemInSession=2, sessionId="abc")
    root = live.upload("source", {EVENTS: lines(event(), bad)}, [song()])
    url = f"{root}/log_data/2018/11/{EVENTS}"
    connection = live.connect()
    if max_errors == 0:
        with pytest.raises(LoadError) as failure:
            api.run(connection, "redshift", root, max_errors, settings=live.config(manifests=False))
        first = str(failure.value).splitlines()[0]
        assert first.startswith(f"staging_events: {url}:2, column session_id: "), first
        assert live.query("SELECT COUNT(*) FROM staging_events") == [(0,)]
        return
    result = api.run(connection, "redshift", root, max_errors, settings=live.config(manifests=False))
    assert result.committed
    assert live.query("SELECT source_file, line_number, TRIM(column_name) FROM rejected_records") == [
        (url, 2, "session_id")]
    assert live.query("SELECT COUNT(*) FROM songplay_table") == [(1,)]


def test_a_ts_outside_the_contract_is_rejected_not_a_failed_transform(live):
    far = 253_402_300_800_000  # 10000-01-01: a BIGINT COPY loads, a year no SMALLINT column of time_table holds
    root = live.upload("source", {EVENTS: lines(event(), event(itemInSession=2, ts=far))}, [song()])
    result = api.run(live.connect(), "redshift", root, 5, settings=live.config(manifests=False))
    assert result.committed
    assert live.query("SELECT TRIM(column_name), raw_value FROM rejected_records") == [("ts", str(far))]
    assert live.query("SELECT COUNT(*) FROM time_table") == [(1,)]


def test_a_duplicated_key_is_caught_by_the_checks(live):
    """Redshift takes a declared PRIMARY KEY as a hint and does not enforce it: the check must count."""
    root = live.upload("source", {EVENTS: lines(event())}, [song()])
    connection = live.connect()
    assert api.run(connection, "redshift", root, 0, settings=live.config(manifests=False)).committed
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO user_table ({column_list('user_table')}) "
                       "VALUES (8, 'Kaylee', 'Summers', 'F', 'paid')")
        checks = {check.name: check for check in run_checks(cursor)}
    connection.rollback()
    assert not checks["user_table key unique and not null"].passed
    assert all(check.passed for name, check in checks.items() if name != "user_table key unique and not null")


def test_epoch_milliseconds_at_midnight(live):
    assert live.query("SELECT TIMESTAMP 'epoch' + 1541116800000 * INTERVAL '1 millisecond'") == [
        (datetime(2018, 11, 2, 0, 0, 0),)]
    root = live.upload("source", {EVENTS: lines(event(ts=1541116800000))}, [song()])
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False)).committed
    assert live.query(f"SELECT {column_list('time_table')} FROM time_table") == [
        (datetime(2018, 11, 2, 0, 0, 0), 0, 2, 44, 11, 2018, 5)]


def test_trailing_blanks_do_not_match_the_catalogue(live):
    """Redshift ignores trailing blanks when it compares VARCHARs; the match must not."""
    events = lines(event(), event(itemInSession=2, ts=1541106206796, song="You Gotta Be "))
    root = live.upload("source", {EVENTS: events}, [song()])
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False)).committed
    assert live.query("SELECT item_in_session, song_id FROM songplay_table ORDER BY item_in_session") == [
        (1, "SOUPIRU12A6D4FA1E1"), (2, None)]
