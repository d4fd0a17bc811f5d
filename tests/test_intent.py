"""Nothing changes the warehouse unless the operator asked (docs/daily-loads.md#what-each-command-may-remove).

No command replaces, shrinks or wipes loaded rows that its command line
does not name: a run without --source continues the source the warehouse
holds; another source needs --replace-source; a reload nobody asked for
never drops the rows of a file gone from the source; --full never shrinks
the warehouse to a window; create_tables.py never drops loaded tables
unasked. A refusal is one line, exit status 2, and changes nothing.
"""

import io
import json
import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from failure_cases import FAILURES
from fake_redshift import FakeCursor, FakeRedshift, redshift_config
from helpers import BUNDLED_SAMPLE, PROJECT_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import create_tables
import etl
import sql_queries as q
from sparkify import api, sample_data
from sparkify.engines.redshift import RedshiftEngine
from sparkify.results import Refused

DAYS = 6
LOG_FOLDER = Path("log_data") / "2018" / "11"


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """Six days of logs and 30 song files."""
    folder = tmp_path_factory.mktemp("month")
    sample_data.generate(folder, songs=30, events=300, days=DAYS, seed=5, start="2018-11-01")
    return folder


@pytest.fixture(scope="module")
def other_month(tmp_path_factory):
    """Another source: other users, other songs."""
    folder = tmp_path_factory.mktemp("other")
    sample_data.generate(folder, songs=20, events=200, days=DAYS, seed=6, start="2018-11-01")
    return folder


def copy_of(month, folder, days=DAYS):
    """A source folder holding the month's songs and its first ``days`` log files."""
    shutil.copytree(month, folder, ignore=lambda where, names: [
        name for name in names if name.endswith("-events.json") and int(name[8:10]) > days])
    return folder


def etl_main(warehouse, *args):
    """etl.py's main() on the test schema: (exit status, stdout, stderr); a usage error is its status too."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = etl.main(["--dsn", warehouse.dsn, *args])
        except SystemExit as stop:  # argparse's refusal of the arguments
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def held(warehouse):
    """Everything the warehouse holds: a refused command must leave it as it was."""
    return warehouse.snapshot(), warehouse.table("loaded_files", order_by="file_key"), \
        warehouse.table("rejected_records")


def sources(warehouse):
    return [source for (source,) in warehouse.query("SELECT DISTINCT source FROM loaded_files")]


@pytest.fixture
def loaded(warehouse, month, tmp_path):
    """A warehouse loaded from S (the month's first five days), with create_tables.py && etl.py --source S."""
    source = copy_of(month, tmp_path / "S", days=DAYS - 1)
    warehouse.create()
    code, out, err = etl_main(warehouse, "--source", str(source), "--quiet")
    assert code == 0, err
    return source


SWITCH = FAILURES["another source than the one the warehouse holds (a mistyped `--source`, a moved folder)"]
UNKNOWN_ROWS = FAILURES["rows that no ledger accounts for (`loaded_files` emptied by hand)"]
GONE = FAILURES["a changed file, and files gone from the source: a reload would drop their rows"]
SHRUNK = FAILURES["a changed file that is smaller than when it was loaded"]
FULL_WINDOW = FAILURES["`--full` with `--since` or `--until`"]
CREATE_TABLES = FAILURES["`create_tables.py` on tables that hold rows, off a terminal"]


def assert_refused(code, err, case, *fragments):
    """One line, as docs/failures.md's ``case`` shows it: what, why, and the flag or command that does it."""
    assert code == case.exit_code == 2, err
    [line] = err.splitlines()
    assert line.startswith("refused: ")
    for fragment in (case.message, *fragments):
        assert fragment in line


# ---------------------------------------------------------------------------
# 1. The source: the one the warehouse holds, unless --source and --replace-source name another
# ---------------------------------------------------------------------------


def test_the_cron_line_continues_the_source_the_warehouse_holds(warehouse, loaded, month):
    """etl.py --quiet, with no --source, after a load from S: S's new day, never the bundled sample."""
    last = LOG_FOLDER / f"2018-11-0{DAYS}-events.json"
    shutil.copy(month / last, loaded / last)
    code, out, err = etl_main(warehouse, "--quiet")
    assert code == 0, err
    assert out.splitlines()[-1].startswith("files: 1 new, 0 changed, 35 skipped (already loaded); only the new "
                                           "files staged")
    assert sources(warehouse) == [str(loaded.resolve())]
    assert warehouse.count("loaded_files") == DAYS + 30


def moved(source):
    target = source.with_name("S-moved")
    source.rename(target)
    return target


@pytest.mark.parametrize("other, options", [
    pytest.param(lambda source, month: copy_of(month, source.with_name("S-old"), days=2), [],
                 id="a mistyped --source that exists"),
    pytest.param(lambda source, month: BUNDLED_SAMPLE, [], id="the bundled sample, named"),
    pytest.param(lambda source, month: moved(source), [], id="the same folder, moved"),
    pytest.param(lambda source, month: BUNDLED_SAMPLE, ["--full"], id="--full from another source"),
    pytest.param(lambda source, month: copy_of(month, source.with_name("S-old"), days=3),
                 ["--until", "2018-11-02"], id="a backfill from another source"),
])
def test_another_source_is_refused_unless_replace_source_names_the_switch(warehouse, loaded, month, tmp_path,
                                                                          other, options):
    before = held(warehouse)
    source = other(loaded, month).resolve()
    code, out, err = etl_main(warehouse, "--source", str(source), *options, "--quiet", "--json",
                              str(tmp_path / "run.json"))
    assert_refused(code, err, SWITCH, f"the warehouse holds {loaded.resolve()}, and this run's source is {source}",
                   f"etl.py --source {source} --replace-source")
    assert held(warehouse) == before
    run = json.loads((tmp_path / "run.json").read_text())
    assert (run["exit_status"], run["committed"], run["error"]) == (2, False, err.strip())

    code, out, err = etl_main(warehouse, "--source", str(source), "--replace-source", *options, "--quiet")
    assert code == 0, err
    assert f"--replace-source: the warehouse held {loaded.resolve()}: everything reloaded from {source}" in out
    assert sources(warehouse) == [str(source)]


def test_rows_that_no_ledger_accounts_for_are_never_replaced_by_the_default_source(warehouse, loaded):
    """A ledger emptied by hand: the warehouse's rows came from a source nobody recorded."""
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DELETE FROM loaded_files")
    warehouse.connection.commit()
    before = held(warehouse)
    code, out, err = etl_main(warehouse, "--quiet")
    assert_refused(code, err, UNKNOWN_ROWS, f"etl.py --source {BUNDLED_SAMPLE} --replace-source")
    assert held(warehouse) == before


def test_replace_source_must_name_the_source_that_replaces(warehouse, loaded):
    before = held(warehouse)
    code, out, err = etl_main(warehouse, "--replace-source")
    assert code == 2 and "--replace-source needs --source" in err
    assert held(warehouse) == before


# ---------------------------------------------------------------------------
# 2. A reload nobody asked for never drops rows: --full does, and says so
# ---------------------------------------------------------------------------


def song_files(source):
    return sorted((source / "song_data").rglob("*.json"))


def log_file(source, day):
    return source / LOG_FOLDER / f"2018-11-{day:02d}-events.json"


def touch(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def all_songs_but_one_gone(source):
    for path in song_files(source)[1:]:
        path.unlink()
    touch(log_file(source, 2))
    return 29


def a_day_gone(source):
    log_file(source, 3).unlink()
    touch(song_files(source)[0])
    return 1


def song_data_gone(source):
    shutil.rmtree(source / "song_data")
    touch(log_file(source, 1))
    return 30


def a_day_cut_short(source):
    path = log_file(source, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:len(lines) // 2]))
    return 0


@pytest.mark.parametrize("change, case, refusal", [
    pytest.param(all_songs_but_one_gone, GONE, "and drop the rows of 29 files in the ledger",
                 id="all song files but one deleted, a log file touched"),
    pytest.param(a_day_gone, replace(GONE, message="and drop the rows of 1 file in the ledger that the source"),
                 "(log_data/2018/11/2018-11-03-events.json)", id="a day deleted, a song file touched"),
    pytest.param(song_data_gone, replace(GONE, message="and drop the rows of 30 files in the ledger that the source"),
                 "", id="song_data/ gone, a log file touched"),
    pytest.param(a_day_cut_short, SHRUNK, "log_data/2018/11/2018-11-04-events.json is smaller than when it was loaded",
                 id="a day cut short"),
])
def test_a_reload_nobody_asked_for_never_drops_rows_and_full_says_what_it_drops(warehouse, loaded, tmp_path,
                                                                                 change, case, refusal):
    gone = change(loaded)
    before = held(warehouse)
    code, out, err = etl_main(warehouse, "--source", str(loaded), "--quiet")
    assert_refused(code, err, case, "changed since it was loaded, so this run would reload everything", refusal,
                   "rerun with --full")
    assert held(warehouse) == before

    code, out, err = etl_main(warehouse, "--source", str(loaded), "--full", "--allow-empty", "--quiet", "--json",
                              str(tmp_path / "run.json"))
    warnings = json.loads((tmp_path / "run.json").read_text())["warnings"]
    if gone:
        assert code == 0, err
        files = "1 file in the ledger is" if gone == 1 else f"{gone} files in the ledger are"
        [line] = [line for line in err.splitlines() if "no longer in the source" in line]  # stderr: --quiet
        assert line.startswith(f"warning: {files} no longer in the source (") and line.endswith(
            ": --full dropped the rows they staged" if gone > 1 else ": --full dropped the rows it staged")
        assert line in warnings
    else:
        assert code == 0 and warnings == [], err
    assert warehouse.count("loaded_files") == DAYS - 1 + 30 - gone


def test_a_daily_run_keeps_the_rows_of_a_file_gone_from_the_source_and_says_so(warehouse, loaded):
    plays = warehouse.count("songplay_table")
    log_file(loaded, 3).unlink()
    code, out, err = etl_main(warehouse, "--source", str(loaded), "--quiet")
    assert code == 0, err
    assert "warning: 1 file in the ledger is no longer in the source (log_data/2018/11/2018-11-03-events.json): " \
           "a daily run keeps the rows it staged; etl.py --full drops them" in err
    assert warehouse.count("songplay_table") == plays


# ---------------------------------------------------------------------------
# 3. --full never shrinks the warehouse to a window
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("window", [["--since", "2018-11-02", "--until", "2018-11-03"], ["--until", "2018-11-02"],
                                    ["--since", "2018-11-04"]])
def test_full_with_since_or_until_is_refused_before_anything_runs(warehouse, loaded, window):
    before = held(warehouse)
    code, out, err = etl_main(warehouse, "--source", str(loaded), "--full", *window)
    assert code == FULL_WINDOW.exit_code and FULL_WINDOW.message in err
    assert held(warehouse) == before


@pytest.mark.parametrize("engine", ["postgres", "redshift"])
def test_full_with_a_window_means_the_same_on_both_engines(warehouse, loaded, engine):
    """One meaning for the pair, whatever the engine: refused, in the library as on the command line."""
    with pytest.raises(Refused, match="--full reloads every file of the source"):
        api.plan(engine, redshift_config(S3__MANIFEST_PREFIX="s3://b/m/"), source="s3://b/p", full=True,
                 since=date(2018, 11, 2))
    if engine == "postgres":
        before = held(warehouse)
        with pytest.raises(Refused, match="--full reloads every file of the source"):
            api.run(warehouse.connection, engine, loaded, full=True, until=date(2018, 11, 2))
        assert held(warehouse) == before


def test_a_daily_run_with_a_window_loads_those_days_and_keeps_the_others(warehouse, loaded, month):
    plays = warehouse.count("songplay_table")
    last = LOG_FOLDER / f"2018-11-0{DAYS}-events.json"
    shutil.copy(month / last, loaded / last)
    code, out, err = etl_main(warehouse, "--source", str(loaded), "--since", f"2018-11-0{DAYS}", "--quiet")
    assert code == 0, err
    assert warehouse.count("songplay_table") > plays
    assert warehouse.count("loaded_files") == DAYS + 30


# ---------------------------------------------------------------------------
# 4. create_tables.py drops loaded tables only when told to
# ---------------------------------------------------------------------------


def create_tables_script(warehouse, *args):
    """create_tables.py off a terminal: its standard input a pipe."""
    return subprocess.run([sys.executable, "create_tables.py", "--dsn", warehouse.dsn, *args], cwd=PROJECT_DIR,
                          input="", capture_output=True, text=True, timeout=120)


def on_a_terminal(warehouse, answer, *args):
    """create_tables.py with a pseudo-terminal for its input and output; ``answer`` typed at its question.
    Returns (exit status, everything it printed)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "create_tables.py", "--dsn", warehouse.dsn, *args],
                               cwd=PROJECT_DIR, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    printed, answered = b"", False
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            if not ready:
                pytest.fail(f"create_tables.py printed nothing for a minute: {printed!r}")
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            printed += chunk
            if not answered and b"[y/N] " in printed:
                os.write(controller, answer.encode() + b"\n")
                answered = True
        return process.wait(timeout=60), printed.decode().replace("\r\n", "\n")
    finally:
        os.close(controller)


def test_create_tables_off_a_terminal_refuses_to_drop_loaded_tables(warehouse, loaded):
    before = held(warehouse)
    result = create_tables_script(warehouse)
    assert_refused(result.returncode, result.stderr, CREATE_TABLES, "the tables hold rows (", " plays and ",
                   "nothing was changed")
    assert held(warehouse) == before
    result = create_tables_script(warehouse, "--drop-data")
    assert result.returncode == 0, result.stderr
    assert "and dropped the " in result.stdout
    assert all(count == 0 for count in api.rows_held(warehouse.connection, "postgres").values())


@pytest.mark.parametrize("answer, kept", [("n", True), ("", True), ("y", False), ("yes", False)])
def test_create_tables_on_a_terminal_asks_before_dropping_loaded_tables(warehouse, loaded, answer, kept):
    before = held(warehouse)
    code, printed = on_a_terminal(warehouse, answer)
    assert code == 0, printed
    assert f"loaded from {loaded.resolve()}. Drop them all, with their rows, and create them empty? [y/N]" in printed
    if kept:
        assert "Nothing was changed: the tables keep their rows" in printed
        assert held(warehouse) == before
    else:
        assert "Created (postgres): " in printed
        assert warehouse.count("songplay_table") == warehouse.count("loaded_files") == 0


def test_create_tables_creates_missing_tables_and_recreates_empty_ones_without_asking(warehouse):
    warehouse.create()
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DROP TABLE rejected_records")
        cursor.execute("ALTER TABLE loaded_files ADD COLUMN stray INTEGER")  # an empty table of an older shape
    warehouse.connection.commit()
    result = create_tables_script(warehouse)
    assert result.returncode == 0, result.stderr
    rows = api.rows_held(warehouse.connection, "postgres")
    assert list(rows) == q.all_tables and not any(rows.values())
    assert ("stray",) not in warehouse.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'loaded_files' "
        "AND table_schema = current_schema()")


def test_create_tables_drops_only_the_rows_it_was_told_of(warehouse, loaded, month):
    """A y given to what the tables held, then a load that commits before create_tables.py takes the lock:
    the new rows were not part of the answer, so nothing is dropped."""
    seen = api.rows_held(warehouse.connection, "postgres")
    last = LOG_FOLDER / f"2018-11-0{DAYS}-events.json"
    shutil.copy(month / last, loaded / last)
    assert etl_main(warehouse, "--quiet")[0] == 0
    before = held(warehouse)
    with pytest.raises(Refused, match=r"^refused: the tables changed while create_tables.py waited for the lock"):
        api.create_tables(warehouse.connection, "postgres", agreed=seen)
    assert held(warehouse) == before


class TablesRedshift(FakeRedshift):
    """A fake Redshift whose schema holds ``tables`` (table -> its rows)."""

    def __init__(self, tables):
        super().__init__()
        self.tables = tables

    def cursor(self):
        return TablesCursor(self)


class TablesCursor(FakeCursor):
    def execute(self, statement, params=None):
        super().execute(statement, params)
        if "FROM information_schema.tables" in statement and "table_name IN" in statement:
            self._rows = [(table,) for table in self.connection.tables]
        elif statement.startswith("SELECT COUNT(*) FROM "):
            self._rows = [(self.connection.tables[statement.split()[-1]],)]


@pytest.mark.parametrize("tables, locked", [
    pytest.param(dict.fromkeys(q.all_tables, 0), True, id="empty tables"),
    pytest.param({}, False, id="no table yet: nothing to lock, no run can be loading"),
])
def test_create_tables_on_redshift_takes_the_runs_lock_first(tables, locked):
    fake = TablesRedshift(tables)
    api.create_tables(fake, RedshiftEngine(redshift_config()))
    run = fake.sent[fake.sent.index("ROLLBACK") + 1:]  # after the read of which tables exist
    assert run[0] == "BEGIN" and (run[1] == "LOCK staging_events") == locked
    assert run[-1] == "COMMIT" and any(statement.startswith("DROP TABLE") for statement in run)


def test_create_tables_on_redshift_never_drops_rows_unasked():
    fake = TablesRedshift({**dict.fromkeys(q.all_tables, 0), "songplay_table": 7})
    with pytest.raises(Refused, match=r"^refused: the tables hold rows \(7 plays and 7 rows in all, in 1 table\)"):
        api.create_tables(fake, RedshiftEngine(redshift_config()))
    assert fake.sent[-1] == "ROLLBACK" and not any(statement.startswith("DROP") for statement in fake.sent)


def test_the_first_commands_of_the_readme_run_twice_off_a_terminal(warehouse, loaded):
    """create_tables.py && etl.py, again: the second create_tables.py refuses, so etl.py does not run."""
    before = held(warehouse)
    dsn = shlex.quote(warehouse.dsn)
    command = f"{sys.executable} create_tables.py --dsn {dsn} && {sys.executable} etl.py --dsn {dsn}"
    result = subprocess.run(command, shell=True, cwd=PROJECT_DIR, input="", capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and result.stdout.count("Target: ") == 1, result.stderr
    assert held(warehouse) == before


# ---------------------------------------------------------------------------
# The kind: sequences of an operator's commands and a source's changes
# ---------------------------------------------------------------------------


def plays_and_songs(warehouse):
    """The warehouse's plays (by event identity: session, item, ts) and song ids."""
    plays = set(warehouse.query(
        "SELECT session_id, item_in_session, (EXTRACT(EPOCH FROM start_time) * 1000)::BIGINT FROM songplay_table"))
    return plays, {song for (song,) in warehouse.query("SELECT song_id FROM song_table")}


def in_source(source):
    """The plays and song ids the source's files hold now."""
    plays, songs = set(), set()
    for path in (source / "log_data").rglob("*.json"):
        for line in path.read_bytes().splitlines():
            record = json.loads(line)
            if record.get("page") == "NextSong":
                plays.add((record["sessionId"], record["itemInSession"], record["ts"]))
    for path in (source / "song_data").rglob("*.json") if (source / "song_data").exists() else ():
        songs.add(json.loads(path.read_bytes())["song_id"])
    return plays, songs


class Operator:
    """A source folder that changes, and the commands an operator runs on it, in process."""

    def __init__(self, warehouse, month, other, folder):
        self.warehouse, self.month, self.other = warehouse, month, other
        self.source = copy_of(month, folder / "S", days=3)
        self.next_day = 4

    # -- the source changes ---------------------------------------------------

    def add_a_day(self, pick):
        if self.next_day <= DAYS:
            name = LOG_FOLDER / f"2018-11-{self.next_day:02d}-events.json"
            shutil.copy(self.month / name, self.source / name)
            self.next_day += 1

    def delete_a_file(self, pick):
        files = sorted(self.source.rglob("*-events.json")) + song_files(self.source)
        if len(files) > 2:
            files[pick % len(files)].unlink()

    def touch_a_file(self, pick):
        files = sorted(self.source.rglob("*-events.json")) + song_files(self.source)
        if files:
            touch(files[pick % len(files)])

    def cut_a_day_short(self, pick):
        days = sorted(self.source.rglob("*-events.json"))
        if days:
            path = days[pick % len(days)]
            lines = path.read_bytes().splitlines(keepends=True)
            path.write_bytes(b"".join(lines[:max(1, len(lines) // 2)]))

    # -- the commands: (exit status, output, what the command names that it may remove) ----------

    def daily(self, pick):
        return etl_main(self.warehouse, "--source", str(self.source), "--quiet"), ()

    def cron_line(self, pick):
        return etl_main(self.warehouse, "--quiet"), ()

    def another_source(self, pick):
        return etl_main(self.warehouse, "--source", str(self.other), "--quiet"), ()

    def full(self, pick):
        return etl_main(self.warehouse, "--source", str(self.source), "--full", "--quiet"), ("full",)

    def full_window(self, pick):
        day = f"2018-11-{pick % 3 + 1:02d}"
        return etl_main(self.warehouse, "--source", str(self.source), "--full", "--since", day, "--until", day,
                        "--quiet"), ("full",)

    def create_tables(self, pick):
        out, err = io.StringIO(), io.StringIO()
        stdin, sys.stdin = sys.stdin, io.StringIO("")  # off a terminal
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = create_tables.main(["--dsn", self.warehouse.dsn])
        finally:
            sys.stdin = stdin
        return (code, out.getvalue(), err.getvalue()), ()


SOURCE_CHANGES = ["add_a_day", "delete_a_file", "touch_a_file", "cut_a_day_short"]
COMMANDS = ["daily", "cron_line", "another_source", "full", "full_window", "create_tables"]


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(SOURCE_CHANGES + COMMANDS), st.integers(0, 1000)),
                      min_size=2, max_size=7))
def test_no_sequence_of_commands_removes_what_no_command_named(warehouse, month, other_month, steps):
    """After each command: a refusal (2) or a failure (1) changed nothing; a command that names no removal
    kept every play and song; --full kept every play and song the source still holds."""
    with tempfile.TemporaryDirectory() as folder:
        operator = Operator(warehouse, month, other_month, Path(folder))
        warehouse.create()
        assert etl_main(warehouse, "--source", str(operator.source), "--quiet")[0] == 0
        for action, pick in steps:
            if action in SOURCE_CHANGES:
                getattr(operator, action)(pick)
                continue
            before, (plays, songs) = held(warehouse), plays_and_songs(warehouse)
            (code, out, err), removals = getattr(operator, action)(pick)
            after_plays, after_songs = plays_and_songs(warehouse)
            assert code in (0, 1, 2), (action, err)
            if code:
                assert held(warehouse) == before, (action, err)
            elif "full" in removals:
                source_plays, source_songs = in_source(operator.source)
                assert plays & source_plays <= after_plays, (action, "--full lost plays the source holds")
                assert songs & source_songs <= after_songs, (action, "--full lost songs the source holds")
            else:
                assert plays <= after_plays, (action, "plays removed unasked", out, err)
                assert songs <= after_songs, (action, "songs removed unasked", out, err)


@pytest.mark.parametrize("args, said", [
    (["--full", "--since", "2018-11-02"], "--full reloads every file of the source"),
    (["--replace-source"], "--replace-source needs --source"),
    (["--check", "--source", "x", "--replace-source"], "--check changes nothing"),
])
def test_a_combination_that_would_remove_unnamed_rows_is_one_refused_line_and_a_json_result(
        warehouse, loaded, tmp_path, args, said):
    """Refused like every other refusal (docs/daily-loads.md), not as a usage error: one line, exit 2,
    and the --json file an orchestrator reads says so."""
    before = held(warehouse)
    results = tmp_path / "run.json"
    code, out, err = etl_main(warehouse, *args, "--json", str(results))
    [line] = err.splitlines()
    assert code == 2 and line.startswith("refused: ") and said in line
    document = json.loads(results.read_text())
    assert document["exit_status"] == 2 and said in document["error"]
    assert held(warehouse) == before
