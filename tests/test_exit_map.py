"""One exit map for the five scripts: a bad config or an unreachable target is 2, Ctrl-C 130, SIGTERM 143.

Each script runs as a person or a scheduler runs it (a subprocess), and
whatever stops it is one line on standard error, never a traceback
(docs/failures.md#exit-statuses).
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
from helpers import PROJECT_DIR

from sparkify.cli import target_options
from sparkify.engines.embedded import fresh_schema
from sparkify.engines.postgres import LOCK_KEY

SCRIPTS = ["etl.py", "create_tables.py", "query.py", "doctor.py", "cluster.py"]
QUERY = "SELECT COUNT(*) FROM songplay_table"
# Credentials only a fake accepts, and no way to find real ones: a test never reaches AWS.
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config"}


@pytest.fixture(autouse=True)
def empty_config(tmp_path, monkeypatch):
    """DWH_CONFIG names an empty config: nothing but the arguments chooses the target."""
    path = tmp_path / "empty.cfg"
    path.write_text("")
    monkeypatch.setenv("DWH_CONFIG", str(path))


def environment(**values):
    names = ("DWH_DSN", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
    base = {name: value for name, value in os.environ.items() if name not in names}
    return {**base, **FAKE_AWS, **values}


def start(script, *args, env=None):
    return subprocess.Popen([sys.executable, script, *args], cwd=PROJECT_DIR, env=env or environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=60):
    """(exit status, stdout, stderr) of ``process``, killed if it does not end in time."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def one_line(err: str) -> str:
    """The one line that says what stopped a script (after query.py's "Target: ...", which it prints first:
    its standard output is the result's)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    if len(lines) > 1 and lines[0].startswith("Target: "):
        lines = lines[1:]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def cluster_config(tmp_path):
    """A config cluster.py reads: a copy of dwh.cfg.example."""
    path = tmp_path / "dwh.cfg"
    shutil.copy(PROJECT_DIR / "dwh.cfg.example", path)
    return path


@contextlib.contextmanager
def silent_endpoint():
    """An HTTP endpoint that accepts connections and never answers (S3 or AWS hanging): its URL, and an
    Event set once a client has connected."""
    listener = socket.create_server(("127.0.0.1", 0))
    connected, held = threading.Event(), []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connected
    finally:
        listener.close()
        for connection in held:
            connection.close()


def wait_until(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# A bad config, an unreachable target: 2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_config_file_that_is_not_there_is_exit_2_and_one_line(script):
    args = ["--config", "/nonexistent/dwh.cfg"] + (["status"] if script == "cluster.py" else [])
    code, _, err = finish(start(script, *args))
    assert code == 2
    assert "dwh.cfg" in one_line(err) and one_line(err).startswith("error: ")


UNREACHABLE_DSN = "host=127.0.0.1 port=1 dbname=sparkify user=etl connect_timeout=1"


@pytest.mark.parametrize("script", ["etl.py", "create_tables.py", "query.py", "doctor.py"])
def test_a_database_that_cannot_be_reached_is_exit_2_and_one_line(script):
    args = ["--dsn", UNREACHABLE_DSN] + ([QUERY] if script == "query.py" else [])
    code, _, err = finish(start(script, *args))
    assert code == 2
    assert "could not connect" in one_line(err) or "checks failed" in one_line(err)


def test_s3_that_cannot_be_reached_is_exit_2_and_one_line_for_etl(warehouse):
    env = environment(AWS_ENDPOINT_URL="http://127.0.0.1:1")
    code, _, err = finish(start("etl.py", "--dsn", warehouse.dsn, "--source", "s3://no-such-bucket/x", env=env))
    assert code == 2
    lines = err.strip().splitlines()
    assert "could not reach S3" in lines[0] and "Traceback" not in err
    assert lines[1:] == ["Nothing was committed: the previous warehouse is unchanged."]


def test_aws_that_cannot_be_reached_is_exit_2_and_one_line_for_cluster(cluster_config):
    env = environment(AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_MAX_ATTEMPTS="1")
    code, _, err = finish(start("cluster.py", "--config", str(cluster_config), "status", env=env))
    assert code == 2
    assert one_line(err).startswith("error: could not reach AWS")


# ---------------------------------------------------------------------------
# Ctrl-C and SIGTERM while the script works: 130 and 143
# ---------------------------------------------------------------------------


def backend_waiting(warehouse, event):
    """Whether a session of the scripts (application sparkify-etl, sparkify-create_tables, sparkify-query...)
    waits on ``event`` (a lock, a sleep) in the warehouse's database."""
    return bool(warehouse.query("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'sparkify-%%' "
                                "AND (wait_event_type = 'Lock' OR wait_event = %s)", (event,)))


@contextlib.contextmanager
def holding(warehouse, *statements):
    """Another session that ran ``statements`` and holds what they locked, until the block ends."""
    other = psycopg2.connect(warehouse.dsn)
    try:
        with other.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        yield
    finally:
        other.rollback()
        other.close()


@contextlib.contextmanager
def working(script, warehouse, tmp_path):
    """``script`` started and busy (waiting on a lock, a statement, S3 or AWS): yields the process."""
    if script in ("doctor.py", "cluster.py"):
        with silent_endpoint() as (url, connected):
            if script == "doctor.py":
                config = tmp_path / "dwh.cfg"
                config.write_text(f"[S3]\nENDPOINT_URL={url}\n")
                process = start(script, "--dsn", warehouse.dsn, "--config", str(config), "--source", "s3://bucket/x")
            else:
                config = tmp_path / "cluster.cfg"
                shutil.copy(PROJECT_DIR / "dwh.cfg.example", config)
                process = start(script, "--config", str(config), "status", env=environment(AWS_ENDPOINT_URL=url))
            wait_until(connected.is_set, f"{script} asked the endpoint")
            time.sleep(0.2)
            yield process
        return
    if script == "query.py":
        process = start(script, "--dsn", warehouse.dsn, "SELECT pg_sleep(60)")
        wait_until(lambda: backend_waiting(warehouse, "PgSleep"), "query.py ran its statement")
        yield process
        return
    # etl.py waits for the lock of another load; create_tables.py for a reader of songplay_table
    hold = (f"SELECT pg_advisory_xact_lock({LOCK_KEY})",) if script == "etl.py" else \
        ("SELECT COUNT(*) FROM songplay_table",)
    with holding(warehouse, *hold):
        process = start(script, "--dsn", warehouse.dsn, "--quiet")
        wait_until(lambda: backend_waiting(warehouse, ""), f"{script} waited on the lock")
        yield process


@pytest.mark.parametrize("signum, status, said", [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
])
@pytest.mark.parametrize("script", SCRIPTS)
def test_ctrl_c_or_sigterm_while_a_script_works_is_its_status_and_one_line(
        warehouse, tmp_path, script, signum, status, said):
    before = warehouse.count("songplay_table")
    with working(script, warehouse, tmp_path) as process:
        process.send_signal(signum)
        code, _, err = finish(process, timeout=30)
    assert code == status, err
    assert one_line(err).startswith(said)
    assert warehouse.count("songplay_table") == before  # create_tables.py dropped nothing


# ---------------------------------------------------------------------------
# The embedded server: stopped on SIGTERM and SIGHUP as on a normal exit
# ---------------------------------------------------------------------------


def server_stopped(pgdata):
    return not (pgdata / "postmaster.pid").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("args", [["--serve"], ["SELECT pg_sleep(60)"]], ids=["--serve", "a statement"])
def test_query_py_on_the_embedded_server_ends_on_sigterm_or_sighup_and_stops_it(tmp_path, args, signum):
    pgdata = tmp_path / "pgdata"
    process = start("query.py", "--pgdata", str(pgdata), *args)
    try:
        if args == ["--serve"]:
            first = process.stdout.readline()
            assert first.startswith("Serving the embedded PostgreSQL: "), first + finish(process)[2]
        else:
            wait_until(lambda: (pgdata / "postmaster.pid").exists(), "the server started")
            time.sleep(1)
        process.send_signal(signum)
        code, _, err = finish(process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    name = signal.Signals(signum).name
    assert code == 128 + signum
    assert one_line(err).startswith(f"terminated ({name})")
    wait_until(lambda: server_stopped(pgdata), "stopped the server", timeout=10)


# ---------------------------------------------------------------------------
# Documented once, linked from everywhere
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_scripts_help_links_the_one_page_of_exit_statuses(script):
    code, out, _ = finish(start(script, "--help"))
    assert code == 0
    assert "docs/failures.md#exit-statuses" in out
    assert "## Exit statuses" in (PROJECT_DIR / "docs" / "failures.md").read_text(encoding="utf-8")
    assert "docs/failures.md#exit-statuses" in (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Advice names the same target
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("given, said", [
    ({"pgdata": "/srv/pg"}, " --pgdata /srv/pg"),
    ({"config": "prod.cfg"}, " --config prod.cfg"),
    ({"dsn": "host=db user=etl password=s3cret"}, " --dsn <the same DSN>"),
    ({}, ""),
])
def test_advice_to_run_another_script_repeats_the_options_that_chose_the_target(given, said):
    """Run without them, create_tables.py would make the tables of another warehouse; a DSN is never
    repeated, its password with it."""
    args = argparse.Namespace(**{"config": None, "pgdata": None, "dsn": None, **given})
    assert target_options(args) == said


def test_a_warehouse_without_tables_is_told_to_run_create_tables_on_the_same_target(dsn):
    empty = fresh_schema(dsn, "test_exit_map_no_tables")
    code, _, err = finish(start("etl.py", "--dsn", empty))
    assert code == 1
    assert one_line(err.replace("Nothing was committed: the previous warehouse is unchanged.", "")).endswith(
        "run create_tables.py --dsn <the same DSN> first")
