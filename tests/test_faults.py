"""Faults: a killed connection, Ctrl-C, a server killed hard, two runs at once, a flaky start.

etl.py runs as a subprocess, as a person runs it, on the test module's schema.
To fault it at a known point, a trigger makes the run wait on an advisory lock
the test holds (``paused_at``): the test then sees the run's backend waiting
(``application_name = 'sparkify-etl'``) and kills it, or interrupts the
process, for real. Whatever happens, the previous warehouse stays as it was
and a rerun succeeds.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
from failure_cases import FAILURES
from helpers import PROJECT_DIR, event, song, write_source

import etl
from sparkify import api
from sparkify.engines import connect as connection
from sparkify.engines.postgres import PostgresEngine
from sparkify.output import query

PAUSE_KEY = 0x5041_5553  # "PAUS": the advisory lock the trigger waits on


EVENTS = [event(itemInSession=item, ts=1541106106796 + item * 1000) for item in range(5)]


@pytest.fixture
def good_source(tmp_path):
    return write_source(tmp_path / "good", events=EVENTS, songs=[song()])


NEXT_EVENTS = [*EVENTS, event(itemInSession=len(EVENTS), ts=1541106199000, song="Another song")]


@pytest.fixture
def next_source(tmp_path):
    """The next delivery: one more event and one more song, so a half-done run would show."""
    return write_source(tmp_path / "next", events=NEXT_EVENTS, songs=[song(), song(song_id="SONEXT12A8C13B0F4")])


def assert_loaded_next(warehouse):
    assert warehouse.count("staging_events") == warehouse.count("songplay_table") == len(NEXT_EVENTS)
    assert warehouse.count("song_table") == 2


@pytest.fixture
def previous(warehouse, good_source):
    """The warehouse as the last good run left it."""
    warehouse.load(good_source)
    return state(warehouse)


def state(warehouse):
    return warehouse.snapshot(), warehouse.table("rejected_records")


def start_etl(warehouse, source, *options):
    """etl.py on ``source``, which may replace the test's previous one (--replace-source)."""
    return subprocess.Popen(
        [sys.executable, "etl.py", "--dsn", warehouse.dsn, "--source", str(source), "--replace-source", *options],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(process, timeout=60):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@contextlib.contextmanager
def paused_at(warehouse, table, when="FOR EACH STATEMENT"):
    """Make any etl.py run wait when it inserts into ``table``, until the block ends."""
    holder = psycopg2.connect(warehouse.dsn)
    holder.autocommit = True
    with holder.cursor() as cursor:
        cursor.execute(f"""
            CREATE OR REPLACE FUNCTION pause_here() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock({PAUSE_KEY}); RETURN NEW; END $$
        """)
        cursor.execute(f"CREATE TRIGGER pause BEFORE INSERT ON {table} {when} EXECUTE FUNCTION pause_here()")
        cursor.execute("SELECT pg_advisory_lock(%s)", (PAUSE_KEY,))
    try:
        yield holder
    finally:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
            cursor.execute(f"DROP TRIGGER pause ON {table}")
            cursor.execute("DROP FUNCTION pause_here()")
        holder.close()


def release(holder):
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", (PAUSE_KEY,))


def waiting_backends(warehouse, process, count=1, timeout=30):
    """The pids of the scripts' backends (sparkify-etl, sparkify-create_tables...) waiting on an advisory lock,
    once ``count`` of them are."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for (pid,) in warehouse.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'sparkify-%%' "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory' ORDER BY backend_start"
        )]
        if len(pids) >= count:
            return pids
        if process.poll() is not None:
            pytest.fail(f"etl.py ended before it got there: {process.communicate()}")
        time.sleep(0.02)
    pytest.fail("etl.py never got there")


def assert_rerun_succeeds(warehouse, source):
    rerun = start_etl(warehouse, source)
    code, out, err = finish(rerun)
    assert code == 0, err
    assert_loaded_next(warehouse)


def assert_only(err, failure):
    """The failure's message and the reassurance: two lines, no traceback, nothing else."""
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert failure.message in lines[0]


# ---------------------------------------------------------------------------
# The connection dies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, when",
    [
        pytest.param("staging_events", "FOR EACH ROW WHEN (NEW.item_in_session >= 2)", id="during the staging load"),
        pytest.param("songplay_table", "FOR EACH STATEMENT", id="during the transform"),
    ],
)
def test_a_killed_connection_fails_clearly_and_leaves_the_previous_warehouse(
    warehouse, next_source, previous, table, when
):
    with paused_at(warehouse, table, when):
        process = start_etl(warehouse, next_source)
        [pid] = waiting_backends(warehouse, process)
        assert warehouse.query("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
        code, out, err = finish(process)
    failure = FAILURES["the database connection dies mid-run"]
    assert code == failure.exit_code == 2
    assert_only(err, failure)
    assert "connection already closed" not in err, "the cause, not what the rollback said afterwards"
    assert state(warehouse) == previous
    assert_rerun_succeeds(warehouse, next_source)


# ---------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------


def test_ctrl_c_during_the_load_rolls_back_and_leaves_nothing_behind(warehouse, next_source, previous):
    with paused_at(warehouse, "staging_events", "FOR EACH ROW WHEN (NEW.item_in_session >= 2)") as holder:
        process = start_etl(warehouse, next_source)
        waiting_backends(warehouse, process)
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)  # let the signal land while the run is still in the COPY
        release(holder)
        code, out, err = finish(process)
    failure = FAILURES["Ctrl-C (SIGINT) during the load"]
    assert code == failure.exit_code == 130
    assert err.strip() == failure.message
    assert state(warehouse) == previous
    leftovers = warehouse.query(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'sparkify-etl'"
    )
    assert leftovers == [(0,)], "no session of the interrupted run is left holding anything"
    assert_rerun_succeeds(warehouse, next_source)


def test_ctrl_c_during_a_long_statement_stops_the_run_at_once(warehouse, next_source, previous):
    """The statement is cancelled on the server: the run does not wait for it to end."""
    with paused_at(warehouse, "songplay_table"):
        process = start_etl(warehouse, next_source)
        try:
            waiting_backends(warehouse, process)
            process.send_signal(signal.SIGINT)
            code, out, err = finish(process, timeout=10)  # the statement would wait for the test for ever
        finally:
            process.kill()
    failure = FAILURES["Ctrl-C (SIGINT) during the load"]
    assert code == failure.exit_code == 130
    assert err.strip() == failure.message
    assert state(warehouse) == previous
    assert_rerun_succeeds(warehouse, next_source)


# ---------------------------------------------------------------------------
# Two runs at once
# ---------------------------------------------------------------------------


def test_a_second_run_waits_for_the_first_and_they_never_interleave(warehouse, next_source, previous):
    with paused_at(warehouse, "staging_events", "FOR EACH ROW WHEN (NEW.item_in_session >= 2)") as holder:
        first = start_etl(warehouse, next_source)
        waiting_backends(warehouse, first)
        second = start_etl(warehouse, next_source)
        waiting_backends(warehouse, second, count=2)  # the second waits on the warehouse lock
        # analysts still read the previous star (a full load holds staging_events to itself: it drops
        # the table's ts index before staging and builds it after)
        assert warehouse.count("songplay_table") == len(previous[0]["songplay_table"])
        release(holder)
        results = [finish(first), finish(second)]
    for code, _, err in results:
        assert code == 0, err
    failure = FAILURES["two etl.py runs at once on one database"]
    assert failure.message in results[1][1]
    assert failure.message not in results[0][1]
    assert_loaded_next(warehouse)  # two whole runs, one after the other: as one run


def test_create_tables_during_a_load_waits_for_it_and_then_refuses_to_drop_what_it_committed(warehouse, good_source):
    """Started while an etl.py load runs, create_tables.py neither deadlocks with it nor wipes what it loads."""
    warehouse.create()
    with paused_at(warehouse, "songplay_table") as holder:
        load = start_etl(warehouse, good_source, "--full")
        waiting_backends(warehouse, load)  # the load, paused halfway through its transaction
        create = subprocess.Popen([sys.executable, "create_tables.py", "--dsn", warehouse.dsn], cwd=PROJECT_DIR,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting_backends(warehouse, create, count=2)  # create_tables.py waits for it, on the load's lock
        release(holder)
        assert finish(load)[0] == 0
        out, err = create.communicate(input="", timeout=60)  # its standard input a pipe: off a terminal
    assert create.returncode == 2, err
    assert "Another etl.py run is loading this database: waiting for it to finish..." in out
    assert err.startswith(f"refused: the tables hold rows ({len(EVENTS)} plays and ")
    assert warehouse.count("songplay_table") == len(EVENTS)  # the load's rows, all there


# ---------------------------------------------------------------------------
# The embedded server was killed hard
# ---------------------------------------------------------------------------

HOLD_SERVER = """
import sys, time
from sparkify.engines import embedded as local_postgres
local_postgres.start(sys.argv[1])
print(open(sys.argv[1] + "/postmaster.pid").readline().strip(), flush=True)
time.sleep(600)
"""


def gone(pid, timeout=10):
    """Wait until the process has died and been reaped, as it has by the time a person reruns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} is still there {timeout} s after SIGKILL")


def held_server(pgdata):
    """(a process holding the embedded server on ``pgdata``, with its tables created; the postmaster's pid)."""
    created = subprocess.run(
        [sys.executable, "create_tables.py", "--pgdata", str(pgdata)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    assert created.returncode == 0, created.stderr
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SERVER, str(pgdata)], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True,
    )
    return holder, int(holder.stdout.readline())


def test_an_embedded_server_killed_hard_is_recovered_by_the_next_run(tmp_path, good_source):
    pgdata = tmp_path / "pgdata"
    holder, postmaster = held_server(pgdata)
    os.kill(postmaster, signal.SIGKILL)  # no shutdown: postmaster.pid and the socket lock stay behind
    holder.kill()
    holder.communicate()
    gone(postmaster)
    assert (pgdata / "postmaster.pid").exists()

    try:
        loaded = subprocess.run(
            [sys.executable, "etl.py", "--pgdata", str(pgdata), "--source", str(good_source)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
    finally:
        stop_server(pgdata)  # etl.py leaves the server it started running, as it does for .pgdata
    assert loaded.returncode == FAILURES["the embedded PostgreSQL was killed hard"].exit_code == 0, loaded.stderr
    assert FAILURES["the embedded PostgreSQL was killed hard"].message in loaded.stdout


def test_a_server_left_by_a_process_killed_hard_is_stopped_by_the_next_run(tmp_path, good_source):
    """kill -9 of a process holding the embedded server runs none of its code, but the kernel releases its
    lock: the next run is the last holder and stops the server when it ends."""
    pgdata = tmp_path / "pgdata"
    holder, postmaster = held_server(pgdata)
    holder.kill()  # the holder dies hard; the server it started runs on
    holder.communicate()
    gone(holder.pid)
    try:
        loaded = subprocess.run(
            [sys.executable, "etl.py", "--pgdata", str(pgdata), "--source", str(good_source)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
        assert loaded.returncode == 0, loaded.stderr
        gone(postmaster)  # stopped when etl.py, its last holder, ended
    finally:
        stop_server(pgdata)


def stop_server(pgdata):
    """A fast shutdown of the server running on ``pgdata``, if one is."""
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)


# ---------------------------------------------------------------------------
# A flaky start
# ---------------------------------------------------------------------------


@pytest.fixture
def pauses(monkeypatch):
    """The pauses connect() makes between attempts, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(connection.time, "sleep", slept.append)
    return slept


def test_a_transient_connection_failure_is_retried_with_backoff(warehouse, good_source, pauses, monkeypatch, capsys):
    real_connect = psycopg2.connect
    failures = iter([psycopg2.OperationalError("could not connect: the server is starting up")] * 2)

    def flaky_connect(*args, **kwargs):
        error = next(failures, None)
        if error is not None:
            raise error
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(connection.psycopg2, "connect", flaky_connect)
    assert etl.main(["--dsn", warehouse.dsn, "--source", str(good_source), "--replace-source"]) == 0
    assert pauses == [1, 2]


def test_a_connection_that_keeps_failing_gives_up_with_a_clear_error(pauses, good_source, capsys):
    code = etl.main(["--dsn", "host=127.0.0.1 port=1 dbname=sparkify user=etl", "--source", str(good_source)])
    out, err = capsys.readouterr()
    failure = FAILURES["the database cannot be reached at start"]
    assert code == failure.exit_code == 2
    assert failure.message in err
    assert len(err.strip().splitlines()) == 1
    assert pauses == [1, 2]


# ---------------------------------------------------------------------------
# Reading while another session rewrites a table (TRUNCATE is not MVCC-safe)
# ---------------------------------------------------------------------------


class Said:
    """A reporter that keeps what it was told."""

    def __init__(self):
        self.lines = []

    def always(self, text=""):
        self.lines.append(text)

    line = always


@pytest.fixture
def rewriting(warehouse, previous):
    """Session A, mid-rewrite: songplay_table truncated, its rows kept aside, not committed yet."""
    writer = psycopg2.connect(warehouse.dsn)
    with writer.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE sp AS SELECT * FROM songplay_table")
        cursor.execute("TRUNCATE songplay_table")
    yield writer
    writer.rollback()
    writer.close()


def in_a_thread(warehouse, read):
    """Start ``read(connection)`` on a connection of its own, in a thread, once it waits on a lock.

    Returns (wait for its result, the lines it said)."""
    reader = psycopg2.connect(warehouse.dsn)
    outcome = {}

    def target():
        try:
            outcome["result"] = read(reader)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    pid = reader.info.backend_pid
    deadline = time.monotonic() + 30
    while not warehouse.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", (pid,)
    ):
        assert thread.is_alive() and time.monotonic() < deadline, f"the reader never waited: {outcome}"
        time.sleep(0.02)

    def result():
        thread.join(timeout=30)
        reader.close()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    return result


def test_check_waits_for_a_truncate_in_another_session_and_reports_no_false_failure(warehouse, rewriting):
    said = Said()
    finished = in_a_thread(warehouse, lambda reader: api.check(reader, PostgresEngine(), said))
    with rewriting.cursor() as cursor:
        cursor.execute("INSERT INTO songplay_table SELECT * FROM sp")
    rewriting.commit()
    checks, _ = finished()
    assert [check.name for check in checks if not check.passed] == []
    assert any("waiting for it to commit" in line for line in said.lines), said.lines


def test_query_py_waits_for_a_truncate_in_another_session_and_reads_the_committed_rows(warehouse, rewriting):
    plays = len(EVENTS)
    said = Said()
    finished = in_a_thread(warehouse, lambda reader: query.execute(
        reader, "SELECT COUNT(*) FROM songplay_table", PostgresEngine(), said))
    with rewriting.cursor() as cursor:
        cursor.execute("INSERT INTO songplay_table SELECT * FROM sp")
    rewriting.commit()
    assert finished() == [(["count"], [(str(plays),)])]
    assert any("waiting for it to commit" in line for line in said.lines), said.lines


def test_check_during_a_real_full_load_waits_and_passes(warehouse, next_source, previous):
    with paused_at(warehouse, "songplay_table") as holder:  # the load has emptied the star, not refilled it
        load = start_etl(warehouse, next_source, "--full")
        waiting_backends(warehouse, load)
        said = Said()
        finished = in_a_thread(warehouse, lambda reader: api.check(reader, PostgresEngine(), said))
        release(holder)
        checks, _ = finished()
        assert finish(load)[0] == 0
    assert [check.name for check in checks if not check.passed] == []
    assert_loaded_next(warehouse)


# ---------------------------------------------------------------------------
# SIGTERM and SIGHUP (timeout, systemd, Docker, Airflow, a closed terminal): as Ctrl-C
# ---------------------------------------------------------------------------


def session_processes(session):
    """The pids of the processes still in ``session`` (etl.py's own: it was started in a new one)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == session and fields[0] != "Z":
                    pids.append(int(entry))
    return pids


@pytest.mark.parametrize("signum, name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")])
def test_sigterm_or_sighup_during_parallel_staging_ends_the_run_like_ctrl_c_and_leaves_no_process(
    warehouse, next_source, previous, signum, name
):
    with paused_at(warehouse, "staging_events", "FOR EACH ROW WHEN (NEW.item_in_session >= 2)") as holder:
        process = subprocess.Popen(
            [sys.executable, "etl.py", "--dsn", warehouse.dsn, "--source", str(next_source), "--replace-source",
             "--full",
             "--workers", "2"],
            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        cat = subprocess.Popen(["cat"], stdin=process.stdout, stdout=subprocess.PIPE, text=True)
        process.stdout.close()  # etl.py | cat: only etl.py and its children hold the pipe now
        try:
            waiting_backends(warehouse, process)
            assert len(session_processes(process.pid)) > 1, "the loader's worker processes are running"
            process.send_signal(signum)
            cat.communicate(timeout=30)  # ends only once no process holds etl.py's stdout
            err = process.stderr.read()
            code = process.wait(timeout=30)
        finally:
            process.kill()
            cat.kill()
            release(holder)
    failure = FAILURES["SIGTERM or SIGHUP during the load (timeout, systemd, Docker, a closed terminal)"]
    assert code == 128 + signum and (signum != signal.SIGTERM or code == failure.exit_code)
    assert err.strip() == failure.message.replace("SIGTERM", name)
    assert session_processes(process.pid) == [], "no worker, fork server or resource tracker is left"
    assert state(warehouse) == previous
    assert_rerun_succeeds(warehouse, next_source)


def test_kill_9_during_parallel_staging_leaves_no_process_and_no_open_pipe(warehouse, next_source, previous,
                                                                          tmp_path):
    """kill -9 (the OOM killer's signal) gives etl.py no chance to stop its helpers: they notice and exit.

    A source of 12 MB keeps the worker processes busy while the COPY waits:
    they, multiprocessing's fork server and its resource tracker are all gone
    within seconds, and readers of etl.py's stdout and stderr (``etl.py | cat``)
    reach their end.
    """
    large = write_source(tmp_path / "large", songs=[song()], events=[
        event(itemInSession=item, ts=1541106106796 + item) for item in range(30_000)])
    with paused_at(warehouse, "staging_events", "FOR EACH ROW WHEN (NEW.item_in_session >= 2)") as holder:
        process = subprocess.Popen(
            [sys.executable, "etl.py", "--dsn", warehouse.dsn, "--source", str(large), "--replace-source", "--full",
             "--workers", "2"],
            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        readers = [subprocess.Popen(["cat"], stdin=stream, stdout=subprocess.DEVNULL)
                   for stream in (process.stdout, process.stderr)]
        process.stdout.close()
        process.stderr.close()  # only etl.py and what it started hold the pipes now
        try:
            waiting_backends(warehouse, process)
            assert len(session_processes(process.pid)) == 5, "etl.py, 2 workers, the fork server and the tracker"
            process.kill()
            killed = time.monotonic()
            for reader in readers:
                reader.wait(timeout=10)  # ends only once no process holds the pipe
            while session_processes(process.pid) and time.monotonic() < killed + 10:
                time.sleep(0.05)
            left = session_processes(process.pid)
        finally:
            process.kill()
            for reader in readers:
                reader.kill()
            release(holder)
    process.wait(timeout=30)
    assert left == [], "no worker, fork server or resource tracker is left"
    assert state(warehouse) == previous
    assert_rerun_succeeds(warehouse, next_source)
