"""Against a real Redshift (docs/live-tests.md): what the fakes of tests/test_redshift_path.py cannot show.

Skipped, with the reason, unless REDSHIFT_TEST_DSN, REDSHIFT_TEST_S3_PREFIX and
REDSHIFT_TEST_IAM_ROLE are set. Every test runs on the flavour the DSN's host
is (a provisioned cluster, or Serverless); test_the_flavour says which.
No stub anywhere: each test passes only if Redshift behaves as the code assumes.
"""

import io
import threading
import time
from datetime import datetime

import psycopg2
import pytest
from helpers import guide_sql
from live_redshift import (  # noqa: F401  (the fixture "live")
    NEEDS_A_WAREHOUSE,
    NEEDS_IAM,
    event,
    lines,
    live_fixture,
    song,
)

import sql_queries as q
from sparkify import api
from sparkify.aws.iam_auth import parse_host
from sparkify.checks.reconciliation import run_checks
from sparkify.engines import RedshiftEngine
from sparkify.engines.connect import KEEPALIVES, cluster_dsn, system_trust_store
from sparkify.output.report import Reporter
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


# ---------------------------------------------------------------------------
# --max-errors, rejected records, this run's load errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_errors", [1, 3])
def test_max_errors_n_loads_n_bad_records_and_fails_at_the_next(live, max_errors):
    """COPY fails at MAXERROR errors or more: the run's MAXERROR N+1 loads N bad records, not N+1."""
    bad = [event(itemInSession=n + 2, sessionId="abc") for n in range(max_errors + 1)]
    root = live.upload("exact", {EVENTS: lines(event(), *bad[:max_errors])}, [song()])
    result = api.run(live.connect(), "redshift", root, max_errors, settings=live.config(manifests=False))
    assert result.committed and result.rejected_count == max_errors
    assert live.query("SELECT COUNT(*) FROM rejected_records") == [(max_errors,)]
    root = live.upload("one-more", {EVENTS: lines(event(), *bad)}, [song()])
    with pytest.raises(LoadError, match=rf"The load stopped: {max_errors + 1} rejected record\(s\), more than "
                                        rf"--max-errors {max_errors}"):
        api.run(live.connect(), "redshift", root, max_errors, settings=live.config(manifests=False))


def test_more_than_a_thousand_rejected_records_are_counted_and_kept(live):
    """The view is counted, not read a thousand at a time: the summary, rejected_records and the ledger."""
    bad = [event(itemInSession=n + 2, sessionId="abc") for n in range(1_200)]
    root = live.upload("many", {EVENTS: lines(event(), *bad)}, [song()])
    result = api.run(live.connect(), "redshift", root, 1_500, settings=live.config(), full=False)
    assert result.committed and result.rejected_count == 1_200
    assert live.query("SELECT COUNT(*) FROM rejected_records") == [(1_200,)]
    assert live.query("SELECT SUM(rows_rejected) FROM loaded_files") == [(1_200,)]


def test_a_failed_copy_of_an_unreadable_prefix_shows_no_other_sessions_errors(live):
    """Another session fails a COPY with errors first: this run's COPY, which cannot read its prefix, must
    not be shown them, whatever the process ids."""
    root = live.upload("bad", {EVENTS: lines(event(sessionId="abc"))}, [song()])
    with pytest.raises(LoadError):
        api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False))
    with pytest.raises(LoadError) as failure:
        api.run(live.connect(), "redshift", f"{live.prefix}/nothing-here", 0, settings=live.config(manifests=False))
    assert "Redshift recorded no rejected record for it" in str(failure.value)


def test_the_vacuum_after_a_full_reload_covers_every_table(live):
    root = live.upload("source", {EVENTS: lines(event())}, [song()])
    log = io.StringIO()
    result = api.run(live.connect(), "redshift", root, 0, reporter=Reporter(stream=log),
                     settings=live.config(manifests=False))
    assert result.committed and "VACUUM DELETE ONLY failed" not in log.getvalue()
    assert all(f"VACUUM DELETE ONLY {table}" in log.getvalue() for table in q.all_tables)


# ---------------------------------------------------------------------------
# Text with trailing blanks, and an empty userId
# ---------------------------------------------------------------------------


def test_a_blank_only_artist_name_is_a_name(live):
    root = live.upload("source", {EVENTS: lines(event())}, [song(artist_name="  ")])
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False)).committed
    assert live.query("SELECT name, OCTET_LENGTH(name) FROM artist_table") == [("  ", 2)]


def test_a_page_with_a_trailing_blank_is_not_a_play(live):
    events = lines(event(), event(itemInSession=2, ts=1541106206796, page="NextSong "))
    root = live.upload("source", {EVENTS: events}, [song()])
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False)).committed
    assert live.query("SELECT COUNT(*) FROM songplay_table") == [(1,)]
    assert live.query("SELECT COUNT(*) FROM time_table") == [(1,)]


def test_ids_that_differ_by_a_trailing_blank_are_two_keys_in_a_full_and_a_daily_run(live):
    """'X' and 'X ' are two songs and two artists: two rows each, the key checks pass, and a daily run's
    upsert (UPDATE then INSERT) matches each by its bytes (each compares the byte lengths too)."""
    catalogue = [song(song_id="X", artist_id="X", title="T", artist_name="A")]
    root = live.upload("source", {EVENTS: lines(event(song="T", artist="A"))}, catalogue)
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(), full=False).committed
    live.put(f"{root}/log_data/2018/11/2018-11-02-events.json",
             lines(event(ts=1541206106796, song="T ", artist="A ")))
    live.put(f"{root}/song_data/A/B/C/TRABC0000000000009.json",
             lines(song(song_id="X ", artist_id="X ", title="T ", artist_name="A ")))
    result = api.run(live.connect(), "redshift", root, 0, settings=live.config(), full=False)
    assert result.committed and result.mode == "daily"
    assert live.query("SELECT OCTET_LENGTH(song_id), OCTET_LENGTH(title) FROM song_table ORDER BY 1") == [
        (1, 1), (2, 2)]
    assert live.query("SELECT OCTET_LENGTH(artist_id) FROM artist_table ORDER BY 1") == [(1,), (2,)]
    assert live.query("SELECT OCTET_LENGTH(song_id) FROM songplay_table ORDER BY 1") == [(1,), (2,)]
    assert all(check.passed for check in result.checks)


def test_an_empty_user_id_is_a_play_without_a_user(live):
    events = lines(event(), event(itemInSession=2, ts=1541106206796, userId=""))
    root = live.upload("source", {EVENTS: events}, [song()])
    assert api.run(live.connect(), "redshift", root, 0, settings=live.config(manifests=False)).committed
    assert live.query("SELECT user_id FROM songplay_table ORDER BY item_in_session") == [(8,), (None,)]
    assert live.query("SELECT user_id FROM user_table") == [(8,)]


# ---------------------------------------------------------------------------
# The connection
# ---------------------------------------------------------------------------


def test_the_endpoint_passes_verify_full_against_the_system_trust_store(live):
    """Redshift's ACM certificate is trusted by the system's store: the default TLS check connects."""
    if parse_host(live.host) is None:
        pytest.skip(f"{live.host} is not a Redshift endpoint (a tunnel, a proxy): verify-full cannot name it")
    params = psycopg2.extensions.parse_dsn(live.dsn)
    params.update(sslmode="verify-full", sslrootcert=system_trust_store())
    connection = psycopg2.connect(**params)
    try:
        assert connection.info.ssl_in_use
    finally:
        connection.close()


def test_the_connection_sends_keepalives(live):
    parameters = live.connect().get_dsn_parameters()
    assert {key: parameters.get(key) for key in KEEPALIVES} == {key: str(value) for key, value in KEEPALIVES.items()}


# ---------------------------------------------------------------------------
# IAM authentication, and the privileges that survive create_tables.py
# ---------------------------------------------------------------------------


@NEEDS_IAM
def test_iam_authentication_end_to_end_with_the_guides_grants_and_after_create_tables(live):
    """docs/iam-authentication.md, as written: the admin hands the tables to the IAM identity, which then
    loads them, recreates them with create_tables.py, and loads them again."""
    loader = live.connect(cluster_dsn(live.iam_settings()))
    identity = live.query_on(loader, "SELECT current_user")[0][0]
    admin = live.connections[0]
    with admin.cursor() as cursor:
        for statement in guide_sql("### The tables belong to the user that loads them", identity, live.schema):
            cursor.execute(statement)
    admin.commit()
    root = live.upload("source", {EVENTS: lines(event())}, [song()])
    for _ in range(2):
        log = io.StringIO()
        result = api.run(loader, "redshift", root, 0, reporter=Reporter(stream=log),
                         settings=live.config(manifests=False))
        assert result.committed and "VACUUM DELETE ONLY failed" not in log.getvalue()
        api.create_tables(loader, "redshift", drop_data=True)
    assert live.query_on(loader, "SELECT COUNT(*) FROM songplay_table") == [(0,)]


@NEEDS_IAM
def test_default_privileges_give_the_iam_identity_its_rights_after_each_create_tables(live):
    loader = live.connect(cluster_dsn(live.iam_settings()))
    identity = live.query_on(loader, "SELECT current_user")[0][0]
    admin = live.connections[0]
    with admin.cursor() as cursor:
        for statement in guide_sql("### Or: default privileges", identity, live.schema, admin=live.admin_user()):
            cursor.execute(statement)
    admin.commit()
    api.create_tables(admin, "redshift")
    rights = live.query_on(loader, " UNION ALL ".join(
        f"SELECT '{table}', HAS_TABLE_PRIVILEGE('{live.schema}.{table}', '{right}')"
        for table in q.all_tables for right in ("SELECT", "INSERT", "UPDATE", "DELETE")))
    assert all(granted for _, granted in rights), rights
