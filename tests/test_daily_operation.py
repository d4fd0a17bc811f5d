"""Daily operation, step by step: a state machine of an operator's commands and a source that changes.

Hypothesis' RuleBasedStateMachine runs sequences of steps on a small source:
a day added, a day sent again with other content, a file deleted or touched,
song files arriving late; etl.py with or without --source (the source held,
another one, the same folder named another way), --full, --replace-source,
--since/--until, interrupted by SIGINT, SIGTERM or SIGHUP in the middle of
its transaction; etl.py --check; create_tables.py off a terminal, with and
without --drop-data; a DELETE through query.py, with and without --write.
The scripts run in process, through their main() (etl.py, create_tables.py,
query.py), with the arguments a person types.

After every step the warehouse must equal an independent model of what the
operator asked for: the model keeps the files the warehouse should hold
(their names, sizes and contents, as loaded) and which source they are of,
decides each command's outcome from the rules of docs/daily-loads.md ("what
each command may remove", "how a run decides"), and computes the star tables
from those files with tests/reference_model.py (docs/data-contract.md, in
Python, never the pipeline's SQL). A command that failed or was refused must
leave every table as it was. The exit status must be the one the model
expects, from the map of docs/failures.md, and etl.py's --json must parse and
agree with the warehouse: its exit status, source, mode, files staged,
warnings and the checks' counts.

Bounded for CI (about a minute): 16 examples of up to 15 steps. More with
SPARKIFY_STATEFUL_EXAMPLES and SPARKIFY_STATEFUL_STEPS, e.g.::

    SPARKIFY_STATEFUL_EXAMPLES=200 SPARKIFY_STATEFUL_STEPS=30 \\
        .venv/bin/python -m pytest -q tests/test_daily_operation.py -s

The steps run and their outcomes are counted: pytest's
--hypothesis-show-statistics lists them (hypothesis.event), and -s prints one
line of totals.
"""

import io
import json
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import reference_model as model
from helpers import PROJECT_DIR
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

import create_tables
import etl
import query
from sparkify import sample_data
from sparkify.output.report import Reporter
from sql_queries import star_tables

EXAMPLES = int(os.environ.get("SPARKIFY_STATEFUL_EXAMPLES", "16"))
STEPS = int(os.environ.get("SPARKIFY_STATEFUL_STEPS", "15"))
SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}

DAYS = 10  # the days an operator adds, one by one
FIRST_DAYS = 2  # the days each source starts with
SPARE_DAY = DAYS + 1  # events that only a day sent again with other content brings
FIRST_SONGS = 14  # of 20: the others arrive late
LOGS = Path("log_data") / "2018" / "11"
TOTALS = Counter()


def documented_exit_statuses():
    """The statuses of docs/failures.md#exit-statuses: the first column of its table ("143, 129" is two)."""
    text = (PROJECT_DIR / "docs" / "failures.md").read_text(encoding="utf-8")
    section = text.split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    return {int(number) for cell in cells if cell[:1].isdigit() for number in cell.split(",")}


EXIT_STATUSES = documented_exit_statuses()


def day_key(day):
    return (LOGS / f"2018-11-{day:02d}-events.json").as_posix()


def day_of(key):
    """The day of a log file's key (its date in the path); None for a song file."""
    return int(key[-14:-12]) if key.startswith("log_data/") else None


def query_has_write():
    """Whether query.py is read-only unless --write (issue 21 item 5): its parser knows the flag."""
    with redirect_stderr(io.StringIO()):
        try:
            query.parse_args(["--write", "SELECT 1"])
        except SystemExit:
            return False
    return True


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """Two months of generated data, each with a spare day: what sources A and B are made of."""
    folder = tmp_path_factory.mktemp("months")
    for name, seed in (("A", 21), ("B", 22)):
        sample_data.generate(folder / name, songs=20, events=300, days=SPARE_DAY, seed=seed, start="2018-11-01")
    return folder


# ---------------------------------------------------------------------------
# The scripts, in process
# ---------------------------------------------------------------------------


def run_main(main, argv, stdin=""):
    """(exit status, stdout, stderr) of a script's main(); a usage error is its status too. Standard
    input is not a terminal (as under cron)."""
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as stop:
                code = stop.code
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


class Interrupt:
    """Sends ``signum`` to this process when the run starts its ``at``-th transform statement."""

    def __init__(self, at, signum, monkeypatch):
        self.at, self.signum, self.calls, self.fired = at, signum, 0, False
        original = Reporter.step_started

        def step_started(reporter, name):
            self.calls += 1
            if self.calls == self.at and not self.fired:
                self.fired = True
                signal.raise_signal(self.signum)
            return original(reporter, name)

        monkeypatch.setattr(Reporter, "step_started", step_started)


# ---------------------------------------------------------------------------
# The model: what the warehouse should hold
# ---------------------------------------------------------------------------


class Loaded:
    """The files the warehouse should hold, as they were when loaded, and their source."""

    def __init__(self, source=None, files=None, hand_deleted=frozenset()):
        self.source = source  # "A" or "B", None: the warehouse holds nothing
        self.files = dict(files or {})  # key -> (size, mtime_ns, bytes)
        self.hand_deleted = set(hand_deleted)  # plays a DELETE through query.py --write removed

    def copy(self):
        return Loaded(self.source, self.files, self.hand_deleted)


def listing(folder):
    """key -> (size, mtime_ns, bytes) of every .json file of a source folder (as the loader lists it)."""
    files = {}
    for path in sorted(folder.rglob("*.json")):
        key = path.relative_to(folder).as_posix()
        if key.startswith(("log_data/", "song_data/")):
            stat = path.stat()
            files[key] = (stat.st_size, stat.st_mtime_ns, path.read_bytes())
    return files


def in_window(key, window):
    """Whether a file is chosen by --since/--until: song files always are; a log file by its date."""
    since, until = window
    day = day_of(key)
    return day is None or ((since is None or day >= since) and (until is None or day <= until))


def expected_star(loaded, jsonpaths, scratch):
    """The star tables (reference_model) of the files ``loaded`` holds, less the plays deleted by hand;
    and (staged events, staged songs)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for key, (_, _, content) in loaded.files.items():
        (scratch / key).parent.mkdir(parents=True, exist_ok=True)
        (scratch / key).write_bytes(content)
    shutil.copy(jsonpaths, scratch / "log_json_path.json")
    (scratch / "log_data").mkdir(exist_ok=True)
    (scratch / "song_data").mkdir(exist_ok=True)
    events, songs = model.read_source(scratch)
    tables = model.expected_tables(events, songs)
    tables["songplay_table"] = [row for row in tables["songplay_table"] if identity(row) not in loaded.hand_deleted]
    return tables, len(events), len(songs)


def identity(play):
    """A songplay row's event identity: (session_id, item_in_session, start_time)."""
    return play[5], play[6], play[0]


def touched_plays(loaded, new_files):
    """The plays a daily run recomputes (docs/daily-loads.md, step 7): the new NextSong events, and the old
    plays whose song title and artist name a new song record carries."""
    new_events, new_songs = set(), set()
    for key, (_, _, content) in new_files.items():
        for record in model.json_objects(content.decode("utf-8")):
            if key.startswith("log_data/") and record.get("page") == "NextSong":
                new_events.add((record["sessionId"], record["itemInSession"], model.start_time(record["ts"])))
            elif key.startswith("song_data/"):
                new_songs.add((record.get("title"), record.get("artist_name")))
    touched = set(new_events)
    for (session, item, ts), songs_played in plays_by_song(loaded).items():
        if songs_played & new_songs:
            touched.add((session, item, ts))
    return touched


def plays_by_song(loaded):
    """event identity -> {(song, artist)} of the NextSong events in the files ``loaded`` holds."""
    plays = {}
    for key, (_, _, content) in loaded.files.items():
        if key.startswith("log_data/"):
            for record in model.json_objects(content.decode("utf-8")):
                if record.get("page") == "NextSong":
                    ident = (record["sessionId"], record["itemInSession"], model.start_time(record["ts"]))
                    plays.setdefault(ident, set()).add((record.get("song"), record.get("artist")))
    return plays


class Outcome:
    """What the model expects of a command: its exit status, and the warehouse after it."""

    def __init__(self, status, after, *, mode=None, staged=(), gone=(), why="", usage=False):
        self.status, self.after, self.mode = status, after, mode
        self.staged, self.gone, self.why = set(staged), sorted(gone), why
        self.usage = usage  # refused by the command line's parser: before --json is written


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


class DailyOperation(RuleBasedStateMachine):
    """An operator's commands and a source that changes; the warehouse checked against the model after each."""

    warehouse = months = monkeypatch = None  # set by the test, before the machine is made

    def __init__(self):
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="daily-", dir=self.months.parent))
        self.sources = {name: self.root / name for name in ("A", "B")}
        for name in self.sources:
            self.copy_from_month(name, "log_json_path.json")
            for day in range(1, FIRST_DAYS + 1):
                self.copy_from_month(name, day_key(day))
            for key in self.month_songs(name)[:FIRST_SONGS]:
                self.copy_from_month(name, key)
        self.warehouse.create()
        self.loaded = Loaded()
        self.before = self.tables()
        self.json = self.root / "run.json"
        self.write_refused = query_has_write()

    @initialize()
    def first_load(self):
        """create_tables.py && etl.py --source A: every example starts from a loaded warehouse."""
        self.etl_run("A")

    def teardown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the sources ------------------------------------------------------------------------

    def month_file(self, name, key):
        return self.months / name / key

    def month_songs(self, name):
        return sorted(path.relative_to(self.months / name).as_posix()
                      for path in (self.months / name / "song_data").rglob("*.json"))

    def copy_from_month(self, name, key):
        target = self.sources[name] / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.month_file(name, key), target)
        self.bump(target)

    @staticmethod
    def bump(path):
        """A new modification time, a second after the last: a changed file always looks changed."""
        stat = path.stat()
        later = max(stat.st_mtime_ns, getattr(DailyOperation, "clock", 0)) + 1_000_000_000
        DailyOperation.clock = later
        os.utime(path, ns=(later, later))

    def files_of(self, name, prefix):
        return sorted(key for key in listing(self.sources[name]) if key.startswith(prefix))

    # -- the source changes: one rule, so that they take no more turns than a command ----------

    @rule(change=st.sampled_from(["send a day again, longer", "send a day again, shorter", "touch a file",
                                  "delete a log file", "delete a song file", "late song files", "add a day"]),
          pick=st.integers(0, 99))
    def the_source_changes(self, change, pick):
        """A change to the source the warehouse holds (A when it holds none): B changes when it is held."""
        self.change_a_source(change, self.loaded.source or "A", pick)

    def change_a_source(self, change, name, pick):
        folder = self.sources[name]
        if change == "add a day":
            missing = [day for day in range(1, DAYS + 1) if not (folder / day_key(day)).exists()]
            if missing:
                self.copy_from_month(name, day_key(missing[0]))
        elif change.startswith("send a day again"):
            days = self.files_of(name, "log_data/")
            self.send_a_day_again(folder / days[pick % len(days)], name, pick, change.endswith("longer"))
        elif change == "touch a file":
            files = self.files_of(name, "")
            self.bump(folder / files[pick % len(files)])
        elif change.startswith("delete"):
            files = self.files_of(name, "song_data/" if "song" in change else "log_data/")
            if len(files) > 1:  # each source keeps a log file and a song file: never "is it the right source?"
                (folder / files[pick % len(files)]).unlink()
        else:
            late = [key for key in self.month_songs(name) if not (folder / key).exists()]
            for key in late[:pick % 3 + 1]:
                self.copy_from_month(name, key)
        self.count(f"source: {change}")

    def send_a_day_again(self, path, name, pick, longer):
        """The day's file with other content: some events of the spare day added, or its last third cut."""
        lines = path.read_bytes().splitlines(keepends=True)
        if longer:
            spare = self.month_file(name, day_key(SPARE_DAY)).read_bytes().splitlines(keepends=True)
            lines = lines + [b"\n"] + spare[pick % 5::5]
        else:
            lines = lines[:max(1, len(lines) * 2 // 3)]
        path.write_bytes(b"".join(lines))
        self.bump(path)

    # -- etl.py -------------------------------------------------------------------------------

    INTERRUPTS = st.none() | st.tuples(st.integers(1, 8), st.sampled_from(sorted(SIGNALS)))
    HELD = st.sampled_from([None, "A", "A/", "./A"])  # the cron line, or the held source named three ways

    DAYS_OF_OPERATION = [  # what lands in the source held before the cron line runs, day after day
        ["add a day"], ["add a day", "late song files"], ["send a day again, longer"], ["add a day"],
        ["delete a song file", "add a day"], ["touch a file"], ["send a day again, shorter"],
        ["delete a log file", "add a day"],
    ]

    @rule()
    def a_day_of_operation(self):
        """What lands in the source held (the next day, late song files, a day sent again...: in turn, from
        DAYS_OF_OPERATION), then the cron line (etl.py --quiet, no --source; --source A on an empty
        warehouse). The rule without arguments: Hypothesis draws it most often, as days come most often."""
        held = self.loaded.source or "A"
        changes = self.DAYS_OF_OPERATION[self.days_run % len(self.DAYS_OF_OPERATION)]
        self.days_run += 1
        for change in changes:
            self.change_a_source(change, held, self.days_run * 7)
        self.etl_run(None if self.loaded.source else held)

    days_run = 0

    @rule(named=HELD, interrupt=INTERRUPTS)
    def etl_daily(self, named, interrupt):
        """etl.py [--source A]: the daily run."""
        self.etl_run(named, interrupt=interrupt)

    @rule(named=HELD, replace=st.sampled_from([False, False, True]), interrupt=INTERRUPTS)
    def etl_full(self, named, replace, interrupt):
        """etl.py [--source A] --full [--replace-source]: the permission changes nothing for the source held."""
        self.etl_run(named, full=True, replace=replace, interrupt=interrupt)

    @rule(named=HELD, since=st.none() | st.integers(1, DAYS), until=st.none() | st.integers(1, DAYS),
          full=st.sampled_from([False, False, False, True]), interrupt=INTERRUPTS)
    def etl_window(self, named, since, until, full, interrupt):
        """etl.py [--source A] --since D1 --until D2 (either may be left out), now and then with --full."""
        self.etl_run(named, full=full, since=since, until=until, interrupt=interrupt)

    @rule(named=st.sampled_from(["A", "B"]), replace=st.booleans(), full=st.booleans(),
          until=st.none() | st.integers(1, DAYS))
    def etl_switch(self, named, replace, full, until):
        """etl.py --source B [--replace-source] [--full] [--until D]: another source, or back to A."""
        self.etl_run(named, full=full, replace=replace, until=until)

    def etl_run(self, named, full=False, replace=False, since=None, until=None, interrupt=None):
        """etl.py with these flags, maybe interrupted by a signal at its ``interrupt[0]``-th transform step."""
        if named is None and self.loaded.source is None:
            self.count("etl.py: the cron line on an empty warehouse (not run: it loads the bundled sample)")
            return
        argv = ["--quiet", "--json", str(self.json)]
        name = None if named is None else named.strip("./")
        if named is not None:
            argv += ["--source", self.spelled(named)]
        argv += ["--full"] * full + ["--replace-source"] * replace
        for flag, day in (("--since", since), ("--until", until)):
            argv += [] if day is None else [flag, f"2018-11-{day:02d}"]
        expected = self.decide(name, full, replace, (since, until))
        plays_before = len(self.before["songplay_table"])
        self.json.unlink(missing_ok=True)
        with self.monkeypatch.context() as patch:
            stopper = Interrupt(*interrupt, patch) if interrupt else None
            code, out, err = run_main(etl.main, ["--dsn", self.warehouse.dsn, *argv])
        if stopper is not None and stopper.fired:
            expected = Outcome(SIGNALS[stopper.signum], self.loaded, why=f"interrupted by {stopper.signum.name}")
        self.count(f"etl.py: {expected.why}")
        self.note(f"etl.py {' '.join(argv)} -> {code}; expected {expected.status} ({expected.why})\n{out}{err}")
        self.settle(code, expected, err)
        self.check_json(code, err, expected, plays_before)

    def spelled(self, named):
        """How the step names its source: the folder, with a trailing slash, or relative to the working
        directory: one folder, however it is written."""
        folder = self.sources[named.strip("./")]
        if named.endswith("/"):
            return f"{folder}/"
        if named.startswith("./"):
            return os.path.relpath(folder)
        return str(folder)

    def decide(self, name, full, replace, window):
        """The outcome of etl.py, from docs/daily-loads.md's "how a run decides"."""
        held = self.loaded
        since, until = window
        windowed = since is not None or until is not None
        if since is not None and until is not None and since > until:
            return Outcome(2, held, why="refused: --since after --until", usage=True)
        if full and windowed:
            return Outcome(2, held, why="refused: --full with a window")
        if replace and name is None:
            return Outcome(2, held, why="refused: --replace-source without --source")
        name = name or held.source
        now = listing(self.sources[name])
        chosen = {key: value for key, value in now.items() if in_window(key, window)}
        if held.source is not None and name != held.source:
            if not replace:
                return Outcome(2, held, why="refused: another source")
            return self.full_load(name, chosen, "--replace-source: another source loaded")
        if held.source is None:
            return self.full_load(name, chosen, "a first load")
        gone = sorted(set(held.files) - set(now))
        if full:
            return self.full_load(name, now, "--full", gone=gone)
        changed = [key for key in held.files if key in chosen and chosen[key][:2] != held.files[key][:2]]
        if changed:
            if gone:
                return Outcome(2, held, why="refused: a changed file, and files gone")
            if any(chosen[key][0] < held.files[key][0] for key in changed):
                return Outcome(2, held, why="refused: a changed file that shrank")
            reload = {key: value for key, value in now.items() if key in chosen or key in held.files}
            return self.full_load(name, reload, "a changed file: everything reloaded")
        new = {key: value for key, value in chosen.items() if key not in held.files}
        if not new:
            return Outcome(0, held, mode="daily", gone=gone, why="nothing new")
        after = held.copy()
        after.files.update(new)
        if held.hand_deleted & touched_plays(held, new):
            return Outcome(1, held, why="a daily run touching plays deleted by hand: a check fails")
        return Outcome(0, after, mode="daily", staged=new, gone=gone, why="a daily run")

    def full_load(self, name, files, why, gone=()):
        """A full load of ``files`` of source ``name``: refused by the guard when a part holds no record."""
        logs = [content for key, (_, _, content) in files.items() if key.startswith("log_data/")]
        songs = [content for key, (_, _, content) in files.items() if key.startswith("song_data/")]
        if not any(content.strip() for content in logs) or not any(content.strip() for content in songs):
            return Outcome(1, self.loaded, why=f"{why}: no log or no song records (is it the right source?)")
        return Outcome(0, Loaded(name, files), mode="full", staged=files, gone=gone, why=why)

    # -- the other commands ------------------------------------------------------------------

    @rule(quiet=st.booleans())
    def etl_check(self, quiet):
        """etl.py --check: every check passes, unless plays were deleted by hand."""
        self.json.unlink(missing_ok=True)
        code, out, err = run_main(etl.main, ["--dsn", self.warehouse.dsn, "--check", *["--quiet"] * quiet,
                                             "--json", str(self.json)])
        lost = self.loaded.hand_deleted & {identity(play) for play in self.expected_plays_without_edits()}
        expected = Outcome(1 if lost else 0, self.loaded, mode="check",
                           why="a check fails: plays deleted by hand" if lost else "every check passes")
        self.count(f"etl.py --check: {expected.why}")
        self.settle(code, expected, err)
        document = json.loads(self.json.read_text(encoding="utf-8"))
        assert (document["exit_status"], document["mode"]) == (code, "check"), document

    @rule(drop_data=st.booleans())
    def create_tables_off_a_terminal(self, drop_data):
        code, out, err = run_main(create_tables.main, ["--dsn", self.warehouse.dsn, *["--drop-data"] * drop_data])
        if self.loaded.source is None:
            expected = Outcome(0, self.loaded, why="empty tables created again")
        elif drop_data:
            expected = Outcome(0, Loaded(), why="--drop-data: every row dropped")
        else:
            expected = Outcome(2, self.loaded, why="refused: the tables hold rows")
        self.count(f"create_tables.py: {expected.why}")
        self.note(f"create_tables.py{' --drop-data' * drop_data} -> {code}\n{out}{err}")
        self.settle(code, expected, err)

    @precondition(lambda self: self.write_refused)
    @rule(write=st.booleans(), pick=st.integers(0, 99))
    def delete_plays_through_query_py(self, write, pick):
        """query.py "DELETE FROM songplay_table WHERE user_id = ..." (issue 21's own example)."""
        users = sorted({play[1] for play in self.before["songplay_table"] if play[1] is not None})
        user = users[pick % len(users)] if users else 8
        sql = f"DELETE FROM songplay_table WHERE user_id = {user}"
        code, out, err = run_main(query.main, ["--dsn", self.warehouse.dsn, *["--write"] * write, sql])
        if write:
            after = self.loaded.copy()
            after.hand_deleted |= {identity(play) for play in self.before["songplay_table"] if play[1] == user}
            expected = Outcome(0, after, why="--write: the plays deleted")
        else:
            expected = Outcome(code if code in (1, 2) else 1, self.loaded, why="refused: read-only")
        self.count(f"query.py: {expected.why}")
        self.note(f"query.py {'--write ' * write}{sql!r} -> {code}\n{out}{err}")
        self.settle(code, expected, err)

    # -- after every step ------------------------------------------------------------------

    def count(self, what):
        """Counts a step by its outcome: --hypothesis-show-statistics and -s show the counts."""
        if currently_in_test_context():
            event(what)
        TOTALS[what] += 1

    @staticmethod
    def note(text):
        """What a command printed, shown with a failing sequence."""
        if currently_in_test_context():
            note(text)

    def tables(self):
        snapshot = self.warehouse.snapshot()
        snapshot["loaded_files"] = self.warehouse.table(
            "loaded_files", "file_key, source, table_name, size", order_by="file_key")
        return snapshot

    def settle(self, code, expected, err):
        """The exit status is the model's and one docs/failures.md lists, and the warehouse is the model's
        (unchanged after a failure or a refusal)."""
        assert code in EXIT_STATUSES, (code, err)
        assert code == expected.status, f"exit status {code}, expected {expected.status} ({expected.why}): {err}"
        if code == 2 and expected.why.startswith("refused") and not expected.usage:
            assert err.startswith("refused: ") and len(err.splitlines()) == 1, err
        after = self.tables()
        if code != 0:
            assert after == self.before, f"a failed or refused command changed the warehouse: {err}"
        self.loaded = expected.after
        self.before = after
        self.assert_model()

    def expected_plays_without_edits(self):
        kept = Loaded(self.loaded.source, self.loaded.files)
        return expected_star(kept, self.jsonpaths(), self.root / "model")[0]["songplay_table"]

    def jsonpaths(self):
        return self.sources[self.loaded.source or "A"] / "log_json_path.json"

    def assert_model(self):
        expected, events, songs = expected_star(self.loaded, self.jsonpaths(), self.root / "model")
        actual = self.before
        problems = []
        for table in star_tables:
            missing = Counter(expected[table]) - Counter(actual[table])
            unexpected = Counter(actual[table]) - Counter(expected[table])
            if missing or unexpected:
                problems.append(f"{table}: missing {sorted(missing.elements(), key=model.sort_key)[:3]}, "
                                f"unexpected {sorted(unexpected.elements(), key=model.sort_key)[:3]}")
        assert not problems, "the warehouse differs from the model:\n" + "\n".join(problems)
        assert (len(actual["staging_events"]), len(actual["staging_songs"])) == (events, songs)
        folder = str(self.sources[self.loaded.source].resolve()) if self.loaded.source else None
        ledger = [(key, folder, "staging_events" if key.startswith("log_data/") else "staging_songs", size)
                  for key, (size, _, _) in sorted(self.loaded.files.items())]
        assert actual["loaded_files"] == ledger

    def check_json(self, code, err, expected, plays_before):
        """--json parses and agrees with the exit status, the warehouse and the model."""
        if expected.usage:  # the parser refused the command line: no run, no document
            return
        document = json.loads(self.json.read_text(encoding="utf-8"))
        assert document["exit_status"] == code
        if code != 0:
            assert document["committed"] is False
            assert document["error"] == err.splitlines()[0], (document["error"], err)
            return
        assert document["error"] is None and document["mode"] == expected.mode
        assert document["source"] == str(self.sources[self.loaded.source].resolve())
        gone = [line for line in document["warnings"] if "no longer in the source" in line]
        if expected.gone:
            count = f"{len(expected.gone)} file in the ledger is" if len(expected.gone) == 1 else \
                f"{len(expected.gone)} files in the ledger are"
            assert len(gone) == 1 and f"warning: {count} no longer in the source" in gone[0], document["warnings"]
        else:
            assert not gone, document["warnings"]
        if expected.why == "nothing new":
            assert document["committed"] is False and document["files"]["new"] == 0
            return
        assert document["committed"] is True
        assert set(document["files"]["staged"]) == expected.staged
        counted = {check["name"]: check for check in document["checks"] if check["how"] == "counted"}
        assert all(check["passed"] for check in document["checks"])
        plays = len(self.before["songplay_table"])
        if expected.mode == "full":
            assert counted["songplays = distinct NextSong events"]["actual"] == plays
        else:
            assert counted["songplays added = new distinct NextSong events"]["actual"] == \
                plays - plays_before


# pytest.ini's 300 s per test, or a quarter of a second a step where more are asked for: pytest-timeout
# stopping a long search mid-step would leave Hypothesis a flaky failure to report instead of the search's
@pytest.mark.timeout(max(300, EXAMPLES * STEPS // 4))
def test_daily_operation_keeps_the_warehouse_equal_to_what_the_operator_asked(warehouse, months, monkeypatch):
    DailyOperation.warehouse, DailyOperation.months, DailyOperation.monkeypatch = warehouse, months, monkeypatch
    TOTALS.clear()
    run_state_machine_as_test(DailyOperation, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    ))
    print(f"\nstateful daily operation: {TOTALS.total()} steps in {EXAMPLES} examples")
    for what, count in sorted(TOTALS.items()):
        print(f"{count:6}  {what}")


@pytest.mark.parametrize("spelling", ["relative", "trailing slash", "through .."])
def test_json_names_the_source_as_the_ledger_does_however_source_is_written(warehouse, months, tmp_path, spelling):
    """--json's source is the source's identity (a folder's absolute path), as loaded_files.source records it and
    a later run without --source reads it: not the text typed after --source."""
    folder = months / "A"
    written = {"relative": os.path.relpath(folder), "trailing slash": f"{folder}/",
               "through ..": f"{folder}/../A"}[spelling]
    warehouse.create()
    run = tmp_path / "run.json"
    code, out, err = run_main(etl.main, ["--dsn", warehouse.dsn, "--source", written, "--quiet", "--json", str(run)])
    assert code == 0, err
    [(ledger,)] = warehouse.query("SELECT DISTINCT source FROM loaded_files")
    assert json.loads(run.read_text(encoding="utf-8"))["source"] == ledger == str(folder.resolve())
