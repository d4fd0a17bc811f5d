"""A command held up by another session says who within seconds, and gives up at the lock timeout.

The scripts run as cron runs them (subprocesses) against the embedded
PostgreSQL, beside a second session that keeps a transaction open, as a
notebook or a BI tool does: idle after a SELECT, after an UPDATE, after an
ALTER TABLE, or holding the run's advisory lock as another etl.py run does.
Each blocked command names the blocker's pid and state within FIRST_REPORT
seconds of waiting, exits 1 once it has waited the lock timeout, and commits
nothing; behind another etl.py run it waits, and goes on when that run ends.
The watch's timing and the Redshift engine's reading of its views are
tried in-process (the Redshift views on tests/fake_redshift.py).
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg2
import pytest
from failure_cases import FAILURES, HELD_UP
from fake_redshift import BlockedRedshift, RedshiftSessions, redshift_config
from helpers import PROJECT_DIR, event, song, write_source
from hypothesis import given, settings
from hypothesis import strategies as st

import sql_queries as q
from sparkify import api
from sparkify.engines import PostgresEngine, RedshiftEngine, lock_wait
from sparkify.engines.errors import LockTimeout
from sparkify.engines.lock_wait import FIRST_REPORT, POLL, LockPolicy, first_words
from sparkify.engines.postgres import LOCK_KEY

STARTED_WAITING = 30  # seconds a script may take to reach the lock (start, connect, stage)
SAID_WITHIN = FIRST_REPORT + 1.5  # the first look, one look's time, the print


# ---------------------------------------------------------------------------
# A loaded warehouse, another session, and a script that runs beside it
# ---------------------------------------------------------------------------

DAY_ONE = [event(ts=1541106106796 + n * 1000, itemInSession=n) for n in range(3)]
DAY_TWO = [event(ts=1541192506796, itemInSession=0, sessionId=140, level="paid")]  # user 8 again: the row changes


@pytest.fixture(scope="module")
def source(tmp_path_factory, warehouse):
    """A source of one day, loaded into the module's warehouse."""
    folder = write_source(tmp_path_factory.mktemp("lock-waits") / "source", DAY_ONE, [song()])
    warehouse.create()
    result = api.run(warehouse.connection, "postgres", str(folder), full=True)
    assert result.committed
    return folder


@pytest.fixture(autouse=True)
def empty_config(tmp_path, monkeypatch):
    """DWH_CONFIG names an empty config, and no DWH_ variable says anything: only the arguments do."""
    path = tmp_path / "empty.cfg"
    path.write_text("")
    monkeypatch.setenv("DWH_CONFIG", str(path))
    for name in ("DWH_DSN", "DWH_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def holding(warehouse, *statements, application="notebook"):
    """Another session that ran ``statements`` and stays idle in its transaction: yields its pid."""
    other = psycopg2.connect(warehouse.dsn, application_name=application)
    try:
        with other.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        yield other
    finally:
        other.rollback()
        other.close()


@dataclass
class Ran:
    """A script's exit status and its lines, each with the seconds since it began waiting for a lock."""

    code: int | None
    lines: list = field(default_factory=list)  # (seconds after the wait began, stream, line)
    waited_from: float | None = None  # the clock's time the script's session began waiting
    ended: float | None = None

    def first(self, *fragments) -> float | None:
        """When the first line holding every one of ``fragments`` was printed (seconds after the wait began)."""
        return next((at for at, _, line in self.lines if all(part in line for part in fragments)), None)

    @property
    def text(self):
        return "\n".join(f"{at:6.2f} {stream}: {line}" for at, stream, line in self.lines)

    @property
    def stderr(self):
        return [line for _, stream, line in self.lines if stream == "stderr"]


def script_waiting(warehouse) -> bool:
    return bool(warehouse.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'sparkify-%%' "
        "AND application_name <> %s AND wait_event_type = 'Lock'", (lock_wait.APPLICATION,)))


def run_beside(warehouse, *args, until=None, timeout=60) -> Ran:
    """Run ``args`` (a script and its arguments) to its end, noting when its session began waiting for a lock.

    ``until(ran)``: called as lines come, may return a callable to run once (to let the blocker go)."""
    process = subprocess.Popen([sys.executable, *args, "--dsn", warehouse.dsn], cwd=PROJECT_DIR, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    ran, raw = Ran(None), []

    def read(stream, name):
        for line in stream:
            raw.append((time.monotonic(), name, line.rstrip("\n")))

    readers = [threading.Thread(target=read, args=(process.stdout, "stdout"), daemon=True),
               threading.Thread(target=read, args=(process.stderr, "stderr"), daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    acted = False
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ran.waited_from is None and script_waiting(warehouse):
                ran.waited_from = time.monotonic()
            if until is not None and not acted and ran.waited_from is not None:
                ran.lines = [(at - ran.waited_from, stream, line) for at, stream, line in raw]
                action = until(ran)
                if action is not None:
                    action()
                    acted = True
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        ran.code = process.wait()
        ran.ended = time.monotonic()
        for reader in readers:
            reader.join(timeout=5)
    start = ran.waited_from if ran.waited_from is not None else raw[0][0] if raw else time.monotonic()
    ran.lines = [(at - start, stream, line) for at, stream, line in raw]
    return ran


def star_and_ledger(warehouse):
    return {table: warehouse.count(table) for table in (*q.star_tables, "loaded_files", "staging_events")}


# ---------------------------------------------------------------------------
# Each command, held up by a session left open: named within seconds, then exit 1 at the timeout
# ---------------------------------------------------------------------------

CASES = {
    # command: (its arguments, what the other session ran, the lock timeout)
    "etl.py --full": (["etl.py", "--full", "--quiet"], ["SELECT COUNT(*) FROM songplay_table"], 7),
    "daily etl.py": (["etl.py", "--quiet"], ["UPDATE user_table SET level = level WHERE user_id = '8'"], 2),
    "etl.py --check": (["etl.py", "--check", "--quiet"], ["ALTER TABLE user_table ADD COLUMN note TEXT"], 2),
    "query.py": (["query.py", "SELECT COUNT(*) FROM songplay_table"],
                 ["ALTER TABLE songplay_table ADD COLUMN note TEXT"], 2),
    "create_tables.py": (["create_tables.py", "--quiet", "--drop-data"], ["SELECT COUNT(*) FROM user_table"], 2),
}


@pytest.mark.parametrize("command", CASES)
def test_a_command_held_up_by_an_open_transaction_names_it_then_gives_up_and_commits_nothing(
        warehouse, source, command):
    args, statements, timeout = CASES[command]
    if command == "daily etl.py":  # a new day, with a user whose row the other session has changed
        write_source(source, log_files={"2018-11-02-events.json": "".join(json.dumps(e) + "\n" for e in DAY_TWO)})
    if command.startswith("etl.py"):
        args = [*args, "--source", str(source)]
    before = star_and_ledger(warehouse)
    with holding(warehouse, *statements) as other:
        pid = other.info.backend_pid
        ran = run_beside(warehouse, *args, "--lock-timeout", str(timeout))
    assert ran.waited_from is not None, f"{command} never waited for a lock:\n{ran.text}"
    named = ran.first(f"pid {pid}", "idle in transaction")
    assert named is not None and named <= min(SAID_WITHIN, timeout + POLL + 1.5), \
        f"{command} did not name pid {pid} and its state within {SAID_WITHIN} s:\n{ran.text}"
    assert "notebook" in "\n".join(line for _, _, line in ran.lines)  # its application
    waited = ran.ended - ran.waited_from
    assert ran.code == 1, ran.text
    assert timeout - 0.2 <= waited <= timeout + POLL + 3, f"gave up after {waited:.1f} s, not {timeout}:\n{ran.text}"
    reports = [at for at, _, line in ran.lines if line.startswith("Waiting ")]
    if timeout > FIRST_REPORT:  # said once, after the short first wait, and not again before the timeout
        assert len(reports) == 1 and FIRST_REPORT - 0.5 <= reports[0] <= SAID_WITHIN, ran.text
        assert ran.first("Gives up in", f"lock timeout {timeout} s, set by --lock-timeout") is not None, ran.text
    else:  # said when it gave up
        assert len(reports) == 1 and reports[0] <= timeout + POLL + 1, ran.text
    if "--quiet" in args:  # standard output keeps what --quiet promises; the wait is said on standard error
        assert all(stream == "stderr" for _, stream, line in ran.lines if line.startswith("Waiting ")), ran.text
    error = [line for line in ran.stderr if line.startswith("error: ")]
    assert len(error) == 1 and f"held by pid {pid}" in error[0] and "idle in transaction" in error[0], ran.text
    assert f"pg_terminate_backend({pid})" in error[0] and "Traceback" not in ran.text
    if command == "etl.py --full":  # docs/failures.md's row
        assert FAILURES[HELD_UP].message in error[0] and FAILURES[HELD_UP].exit_code == ran.code, ran.text
    assert star_and_ledger(warehouse) == before  # nothing committed, nothing dropped


# ---------------------------------------------------------------------------
# Another etl.py run: waited for, without a limit by default, and the run goes on once it ends
# ---------------------------------------------------------------------------


def test_behind_another_etl_run_a_run_waits_names_it_and_goes_on_when_it_commits(warehouse, source):
    before = star_and_ledger(warehouse)
    with holding(warehouse, f"SELECT pg_advisory_xact_lock({LOCK_KEY})", application="sparkify-etl") as other:
        pid = other.info.backend_pid

        def once_named(ran):
            if ran.first(f"pid {pid}", "another etl.py run"):
                return other.commit  # the other run ends
            return None

        ran = run_beside(warehouse, "etl.py", "--quiet", "--source", str(source), until=once_named)
    assert ran.code == 0, ran.text
    assert ran.first("Another etl.py run is loading this database: waiting for it to finish...") is not None
    named = ran.first(f"pid {pid}", "another etl.py run", "idle in transaction")
    assert named is not None and named <= SAID_WITHIN, ran.text
    assert ran.first("waiting for it to finish, without a limit") is not None, ran.text
    assert ran.first("The lock came after") is not None, ran.text
    assert star_and_ledger(warehouse)["loaded_files"] >= before["loaded_files"]


def test_the_default_timeout_leaves_a_wait_behind_a_run_unlimited_and_an_explicit_one_limits_it():
    run = lock_wait.Session(1, application="sparkify-etl", is_run=True)
    notebook = lock_wait.Session(2, application="psql", state="idle in transaction")
    behind_run = lock_wait.LockWait("the lock of a run", (1,), (run,))
    behind_notebook = lock_wait.LockWait("a lock on songplay_table", (2,), (notebook,))
    assert LockPolicy().limit(behind_run) is None
    assert LockPolicy().limit(behind_notebook) == lock_wait.DEFAULT_LOCK_TIMEOUT == 600
    assert LockPolicy(30, "--lock-timeout").limit(behind_run) == 30
    assert LockPolicy(30, "[RUN] LOCK_TIMEOUT").limit(behind_notebook) == 30
    assert LockPolicy(0, "$DWH_LOCK_TIMEOUT").limit(behind_notebook) is None  # 0: no limit


# ---------------------------------------------------------------------------
# The watch itself, in-process: how often it speaks, and what it never does
# ---------------------------------------------------------------------------


def watched(warehouse, engine, policy, monkeypatch, first_report=0.3, repeat=1.0, poll=0.05):
    monkeypatch.setattr(lock_wait, "FIRST_REPORT", first_report)
    monkeypatch.setattr(lock_wait, "REPEAT", repeat)
    monkeypatch.setattr(lock_wait, "POLL", poll)
    connection = psycopg2.connect(warehouse.dsn)
    said = []
    started = time.monotonic()
    watch = engine.watching_locks(connection, lambda: psycopg2.connect(warehouse.dsn), lambda line: said.append(
        (time.monotonic() - started, line)), policy)
    return connection, said, watch


def test_the_wait_is_said_at_most_once_a_repeat_and_its_end_too(warehouse, source, monkeypatch):
    engine = PostgresEngine()
    connection, said, watch = watched(warehouse, engine, LockPolicy(None, "--lock-timeout"), monkeypatch)
    with holding(warehouse, "SELECT COUNT(*) FROM user_table") as other:
        threading.Timer(2.7, other.rollback).start()
        with watch, engine.cursor_on(connection) as cursor:
            cursor.execute("LOCK TABLE user_table IN ACCESS EXCLUSIVE MODE")
    connection.rollback()
    connection.close()
    reports = [at for at, line in said if line.startswith("Waiting ")]
    assert 2 <= len(reports) <= 3, said
    assert reports[0] >= 0.3 and all(later - earlier >= 0.95 for earlier, later in zip(reports, reports[1:])), said
    assert said[-1][1] == "The lock came after 3 s: going on.", said
    assert any("Waiting without a limit (no limit, set by --lock-timeout)" in line for _, line in said), said


def test_a_long_statement_that_waits_for_no_lock_is_never_cancelled_or_reported(warehouse, source, monkeypatch):
    engine = PostgresEngine()
    connection, said, watch = watched(warehouse, engine, LockPolicy(0.5, "--lock-timeout"), monkeypatch)
    with watch, engine.cursor_on(connection) as cursor:
        cursor.execute("SELECT pg_sleep(1.5), COUNT(*) FROM songplay_table")
        assert cursor.fetchone()[1] == warehouse.count("songplay_table")
    connection.rollback()
    connection.close()
    assert said == []


def test_a_lock_timeout_in_process_is_a_lock_timeout_error_naming_the_blocker(warehouse, source, monkeypatch):
    engine = PostgresEngine()
    connection, said, watch = watched(warehouse, engine, LockPolicy(0.6, "--lock-timeout"), monkeypatch)
    with holding(warehouse, "SELECT COUNT(*) FROM user_table") as other:
        pid = other.info.backend_pid
        with watch, engine.cursor_on(connection) as cursor, pytest.raises(LockTimeout) as gave_up:
            cursor.execute("LOCK TABLE user_table IN ACCESS EXCLUSIVE MODE")
        connection.rollback()
        with engine.cursor_on(connection) as cursor:  # the connection is usable again, and nothing is cancelled
            cursor.execute("SELECT 1")
    connection.close()
    assert f"held by pid {pid} (notebook, idle in transaction" in str(gave_up.value)
    waited = re.search(r"gave up after waiting ([\d.]+) s for a lock on user_table \(AccessExclusiveLock\)",
                       str(gave_up.value))
    assert waited and 0.6 <= float(waited.group(1)) < 0.6 + 2, str(gave_up.value)  # the look's pace, a busy machine
    assert str(gave_up.value).count("\n") == 0


# ---------------------------------------------------------------------------
# No secret in a line: a statement is shown by its first words, cut before any literal
# ---------------------------------------------------------------------------

SECRET = "Sup3rSecretValue"


@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=60), after=st.text(max_size=60),
       wrapper=st.sampled_from(["'{}'", '"{}"', "$${}$$", "$q${}$q$", "-- {}", "/* {} */", "PASSWORD {}",
                                "password {}", "CREDENTIALS {}", "SECRET_ACCESS_KEY {}", "IAM_ROLE {}",
                                "SESSION_TOKEN={}"]))
def test_the_statement_shown_never_holds_a_literal_or_what_follows_a_secret_keyword(before, after, wrapper):
    statement = f"{before} {wrapper.format(SECRET)} {after}"
    shown = first_words(statement)
    assert shown is None or SECRET not in shown
    assert shown is None or all(character.isprintable() for character in shown)


@pytest.mark.parametrize("seconds, said", [(0.6, "0.6 s"), (45, "45 s"), (192, "3 min 12 s"), (600, "10 min"),
                                           (7500, "2 h 5 min"), (3 * 86400 + 4 * 3600, "3 days 4 h")])
def test_a_wait_is_said_in_the_units_a_person_reads(seconds, said):
    assert lock_wait.duration(seconds) == said


def test_the_statement_shown_is_its_first_words():
    assert first_words("SELECT COUNT(*)\n  FROM songplay_table") == "SELECT COUNT(*) FROM songplay_table"
    assert first_words("COPY staging_events FROM 's3://bucket/log' IAM_ROLE 'arn:...'") == \
        "COPY staging_events FROM …"
    assert first_words("ALTER USER etl PASSWORD 'x'") == "ALTER USER etl …"
    assert first_words("SELECT a, b, c, d, e, f, g, h, i FROM t") == "SELECT a, b, c, d, e, f, g, …"


# ---------------------------------------------------------------------------
# Redshift: who holds the lock, from SVV_TRANSACTIONS, PG_LOCKS and the SYS views
# ---------------------------------------------------------------------------

NOW = datetime(2024, 5, 2, 10, 15, 0)
STAGING, SONGPLAYS = 100200, 100300
RUN_PID, NOTEBOOK_PID, WRITER_PID = 4100, 5200, 5300


def views(holder_mode="AccessShareLock", holder_app="DBeaver 23.1", waiting_mode="AccessExclusiveLock",
          relation=STAGING, holder_pid=NOTEBOOK_PID, owner="analyst",
          holder_text="SELECT COUNT(*) FROM staging_events"):
    """A run (pid 4100, user etl) waiting for ``relation``, and another session holding it, idle in its
    transaction since 10:02 after one statement."""
    started = NOW - timedelta(minutes=13)
    return {
        "pg_class": [{"oid": STAGING, "relname": "staging_events"}, {"oid": SONGPLAYS, "relname": "songplay_table"}],
        "svv_transactions": [
            {"owner": "etl", "txn_owner": "etl", "txn_db": "dev", "xid": 900, "pid": RUN_PID,
             "txn_start": str(NOW - timedelta(seconds=8)), "lock_mode": waiting_mode,
             "lockable_object_type": "relation", "relation": relation, "granted": 0},
            {"owner": owner, "txn_owner": owner, "txn_db": "dev", "xid": 800, "pid": holder_pid,
             "txn_start": str(started), "lock_mode": holder_mode, "lockable_object_type": "relation",
             "relation": relation, "granted": 1},
            {"owner": owner, "txn_owner": owner, "txn_db": "dev", "xid": 800, "pid": holder_pid,
             "txn_start": str(started), "lock_mode": "ExclusiveLock", "lockable_object_type": "transactionid",
             "relation": None, "granted": 1},
        ],
        "pg_locks": [
            {"relation": relation, "database": 1, "transaction": 900, "pid": RUN_PID, "mode": waiting_mode,
             "granted": 0},
            {"relation": relation, "database": 1, "transaction": 800, "pid": holder_pid, "mode": holder_mode,
             "granted": 1},
        ],
        "sys_query_history": [
            {"owner": owner, "user_id": 101, "query_id": 7001, "transaction_id": 800, "session_id": holder_pid,
             "status": "success", "start_time": str(started), "end_time": str(started + timedelta(seconds=2)),
             "query_text": holder_text},
        ],
        "sys_connection_log": [
            {"owner": owner, "event": "initiating session", "record_time": str(started - timedelta(minutes=1)),
             "remote_host": "10.0.0.7", "session_id": holder_pid, "user_name": owner,
             "application_name": holder_app},
        ],
    }


def redshift_wait(rows, superuser=True):
    engine = RedshiftEngine(settings=redshift_config())
    sessions = RedshiftSessions(rows, user="etl", superuser=superuser)
    with engine.cursor_on(sessions) as cursor:
        return engine.lock_wait(cursor, RUN_PID)


def test_redshift_names_the_session_holding_the_lock_as_a_superuser_sees_it():
    wait = redshift_wait(views())
    assert wait.what == "a lock on staging_events (AccessExclusiveLock)" and wait.blockers == (NOTEBOOK_PID,)
    (holder,) = wait.sessions
    assert (holder.application, holder.user, holder.client, holder.state) == \
        ("DBeaver 23.1", "analyst", "10.0.0.7", "idle in transaction")
    assert holder.since == NOW - timedelta(minutes=13) + timedelta(seconds=2)
    assert holder.holds == "AccessShareLock on staging_events"
    assert holder.statement == "SELECT COUNT(*) FROM staging_events" and not holder.is_run
    assert LockPolicy().limit(wait) == 600


def test_redshift_a_regular_user_sees_the_holder_s_pid_and_is_told_the_rest_is_hidden():
    wait = redshift_wait(views(), superuser=False)
    (holder,) = wait.sessions
    assert holder.pid == NOTEBOOK_PID and holder.application is None and holder.state is None
    assert holder.hidden == "its details are visible to a superuser only"
    assert "pid 5200" in lock_wait.gave_up(wait, 600, LockPolicy())


def test_redshift_a_reader_does_not_hold_up_a_write_but_an_open_write_does():
    """AccessShareLock blocks only AccessExclusiveLock; ShareRowExclusiveLock blocks itself (AWS's page)."""
    reader = views(holder_mode="AccessShareLock", waiting_mode="ShareRowExclusiveLock", relation=SONGPLAYS)
    writer = views(holder_mode="ShareRowExclusiveLock", waiting_mode="ShareRowExclusiveLock", relation=SONGPLAYS,
                   holder_pid=WRITER_PID, holder_text="DELETE FROM songplay_table WHERE user_id = '51'")
    both = {view: reader.get(view, []) + [row for row in writer.get(view, []) if row.get("pid") != RUN_PID]
            for view in reader}
    both["pg_class"] = reader["pg_class"]
    wait = redshift_wait(both)
    assert wait.blockers == (WRITER_PID,)
    assert wait.session(WRITER_PID).statement == "DELETE FROM songplay_table WHERE user_id = …"


def test_redshift_another_run_holding_the_lock_is_waited_for_without_a_limit_by_default():
    wait = redshift_wait(views(holder_mode="AccessExclusiveLock", holder_app="sparkify-etl", owner="etl",
                               holder_text="LOCK staging_events"))
    assert wait.behind_a_run and LockPolicy().limit(wait) is None
    assert LockPolicy(60, "--lock-timeout").limit(wait) == 60
    outside = redshift_wait(views(holder_mode="AccessExclusiveLock", holder_app="psql",
                                  holder_text="ALTER TABLE staging_events ADD COLUMN x INT"))
    assert not outside.behind_a_run


def test_a_redshift_run_behind_an_open_transaction_gives_up_at_the_timeout_and_rolls_back():
    engine = RedshiftEngine(settings=redshift_config())
    fake = BlockedRedshift(pid=RUN_PID)
    said = []
    with engine.watching_locks(fake, lambda: RedshiftSessions(views()), said.append, LockPolicy(1, "--lock-timeout")):
        with pytest.raises(LockTimeout) as gave_up:
            api.run(fake, engine, None, 0, settings=redshift_config())
    assert "held by pid 5200 (DBeaver 23.1, idle in transaction" in str(gave_up.value)
    assert "pg_terminate_backend(5200)" in str(gave_up.value)
    assert fake.sent[-1] == "ROLLBACK" and "COMMIT" not in fake.sent
    assert [line for line in said if "pid 5200" in line], said


def test_a_redshift_run_behind_another_run_goes_on_when_it_ends():
    engine = RedshiftEngine(settings=redshift_config())
    fake = BlockedRedshift(pid=RUN_PID)
    said = []
    other_run = views(holder_mode="AccessExclusiveLock", holder_app="sparkify-etl", owner="etl",
                      holder_text="LOCK staging_events")
    threading.Timer(1.5, fake.release).start()
    with engine.watching_locks(fake, lambda: RedshiftSessions(other_run), said.append, LockPolicy(0.5)):
        result = api.run(fake, engine, None, 0, settings=redshift_config())  # the default does not limit it
    assert result.committed
