"""A lost or full terminal never aborts a load: `etl.py | head -1`, `etl.py --quiet >> log 2>&1` on a full disk,
and an output that breaks at any moment, at the first line, mid-progress or at the summary. The load commits;
the exit status says so (3: done, the output cut short), with one line on standard error where it can."""

import errno
import io
import json
import subprocess
import sys

import psycopg2
import pytest
from helpers import PROJECT_DIR, event, run_main, run_script, song, write_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import etl
from sparkify.engines import embedded

DAY = 86_400_000
ERRORS = {
    "a closed pipe": (BrokenPipeError, errno.EPIPE, "Broken pipe"),
    "a full disk": (OSError, errno.ENOSPC, "No space left on device"),
    "a failing disk": (OSError, errno.EIO, "Input/output error"),
}


def plays(count):
    return [event(ts=1541030400000 + number * 1000, sessionId=1, itemInSession=number) for number in range(count)]


class BreakingStream(io.StringIO):
    """A stream that takes ``room`` characters, or everything before the text ``at``, then fails every write
    as a closed pipe or a full disk does."""

    def __init__(self, room=None, error="a closed pipe", tty=False, at=None):
        super().__init__()
        self.room, self.at, self.tty, self.broke = room, at, tty, False
        kind, number, text = ERRORS[error]
        self.error = lambda: kind(number, text)

    def write(self, text):
        room = len(text) if self.room is None else self.room - self.tell()
        if self.at is not None and self.at in text:
            room = min(room, text.index(self.at))
        if self.broke or room < len(text):  # what fits is written, as a pipe or a disk takes part of a write
            super().write(text[:max(room, 0)] if not self.broke else "")
            self.broke = True
            raise self.error()
        return super().write(text)

    def flush(self):
        if self.broke:
            raise self.error()

    def isatty(self):
        return self.tty


# ---------------------------------------------------------------------------
# The two cases of the issue, on the real embedded PostgreSQL
# ---------------------------------------------------------------------------


def test_a_pipe_closed_after_the_first_line_never_stops_the_load(warehouse, tmp_path):
    source = write_source(tmp_path / "source", events=plays(3), songs=[song()])
    warehouse.create()
    run = subprocess.Popen([sys.executable, "etl.py", "--dsn", warehouse.dsn, "--source", str(source), "--full"],
                           cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = run.stdout.readline()  # what `| head -1` reads, before it exits
    run.stdout.close()
    err = run.stderr.read()
    assert run.wait(timeout=120) == 3, err
    assert first.startswith("Target: ")
    assert err.splitlines() == ["warning: the load is committed, but standard output (Broken pipe) could not be "
                                "written: its output was cut short (exit status 3)"]
    assert warehouse.count("songplay_table") == 3


def test_the_readmes_cron_line_on_a_full_disk_still_loads(tmp_path):
    """`etl.py --quiet >> log 2>&1` with the log's disk full: /dev/full takes no byte, on either stream."""
    pgdata = tmp_path / "pg"
    source = write_source(tmp_path / "source", events=plays(4), songs=[song()])
    assert run_script("create_tables.py", "--pgdata", str(pgdata)).returncode == 0
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "etl.py", "--pgdata", str(pgdata), "--source", str(source), "--quiet",
                              "--json", str(tmp_path / "run.json")],
                             cwd=PROJECT_DIR, stdout=full, stderr=full, timeout=120)
    assert run.returncode == 3
    document = json.loads((tmp_path / "run.json").read_text())
    assert (document["committed"], document["exit_status"]) == (True, 3)
    assert document["error"].startswith("warning: the load is committed, but standard output (No space left on "
                                        "device) could not be written")
    connection = psycopg2.connect(embedded.start(pgdata))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM songplay_table")
            assert cursor.fetchone() == (4,)
    finally:
        connection.close()
        embedded.stop(pgdata)


# ---------------------------------------------------------------------------
# Whenever the output breaks, the load commits and the status says what happened
# ---------------------------------------------------------------------------


class Runs:
    """Full loads of one source, each of another number of plays, so that a run that did not commit shows."""

    def __init__(self, warehouse, folder):
        self.warehouse, self.folder, self.number = warehouse, folder, 0
        warehouse.create()

    def run(self, *options, stdout=None, stderr=None):
        """(exit status, stdout, stderr, the plays this run loads)."""
        self.number += 1
        count = self.number % 4 + 1
        write_source(self.folder, events=plays(count), songs=[song()])
        argv = ["--dsn", self.warehouse.dsn, "--source", str(self.folder), "--full", *options]
        return (*run_main(etl.main, argv, stdout, stderr), count)


@pytest.fixture(scope="module")
def runs(warehouse, tmp_path_factory):
    return Runs(warehouse, tmp_path_factory.mktemp("lost") / "source")


MOMENTS = {  # where the output breaks: at this many characters, or where this text starts
    "at the first line": {"room": 0},
    "mid-progress": {"at": "staging_songs: "},
    "at the summary": {"at": "table  "},
    "at the last line": {"at": "All 14 checks passed; committed"},
}


def assert_committed_and_told(runs, status, out, err, count, stdout, stderr):
    """The run loaded its plays; its status is 3 when a stream it wrote to broke, else 0; it said so on an
    unbroken standard error."""
    assert runs.warehouse.count("songplay_table") == count
    broken = [stream for stream in (stdout, stderr) if stream.broke]
    assert status == (3 if broken else 0), err
    if stdout.broke and not stderr.broke:
        assert err.splitlines()[-1].startswith("warning: the load is committed, but standard output (")
        assert err.splitlines()[-1].endswith("could not be written: its output was cut short (exit status 3)")
    assert "Traceback" not in err


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize("when", MOMENTS)
def test_output_that_breaks_at_any_moment_never_stops_the_load(runs, when, error):
    stdout, stderr = BreakingStream(error=error, **MOMENTS[when]), BreakingStream(10_000)
    status, out, err, count = runs.run(stdout=stdout, stderr=stderr)
    assert stdout.broke
    assert_committed_and_told(runs, status, out, err, count, stdout, stderr)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(room=st.integers(0, 3000), stderr_room=st.sampled_from([0, 40, 10_000]), error=st.sampled_from(list(ERRORS)),
       tty=st.booleans(), quiet=st.booleans(), json_to_stdout=st.booleans())
def test_whatever_breaks_when_the_load_commits_and_the_status_is_true(runs, room, stderr_room, error, tty, quiet,
                                                                      json_to_stdout):
    stdout, stderr = BreakingStream(room, error, tty), BreakingStream(stderr_room, error, tty)
    options = (["--quiet"] if quiet else []) + (["--json", "-"] if json_to_stdout else [])
    status, out, err, count = runs.run(*options, stdout=stdout, stderr=stderr)
    assert_committed_and_told(runs, status, out, err, count, stdout, stderr)
    if json_to_stdout and not stdout.broke:
        document = json.loads(out)
        assert (document["committed"], document["exit_status"]) == (True, 0)
