"""etl.py --json: every field docs/run-results.md documents, typed as it says, for every kind of run; the file
written only where a run may write, in one step, with an exit status true to what was committed."""

import json
import os
import re
import time
from datetime import datetime

import pytest
from helpers import BUNDLED_SAMPLE, PROJECT_DIR, event, run_main, song, write_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg2.extensions import make_dsn

import etl
from sparkify import atomic
from sparkify.engines import embedded
from sparkify.output.run_json import ResultsFile
from sparkify.run import pipeline

PAGE = PROJECT_DIR / "docs" / "run-results.md"
TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "list": list, "object": dict}
DAY = 86_400_000


def documented() -> dict:
    """{"": the document's fields, "files": the fields of ``files``, "steps": of each step, ...}, each
    {field: its type as the page writes it}, in the page's order."""
    tables, name = {}, None
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## The document|### `(\w+)`", line)
        if heading:
            name = heading.group(1) or ""
            tables[name] = {}
        elif line.startswith("## "):
            name = None
        elif name is not None and (row := re.fullmatch(r"\| `(\w+)` \| ([\w ]+) \| .+ \|", line)):
            tables[name][row.group(1)] = row.group(2)
    return tables


TABLES = documented()


def assert_as_documented(value, table="", where="the document"):
    """``value`` has exactly the fields of ``table``, in order, each of its documented type (recursively)."""
    fields = TABLES[table]
    assert list(value) == list(fields), f"{where}: its fields are not the page's"
    for name, kind in fields.items():
        item, words = value[name], kind.split(" or ")
        if item is None:
            assert "null" in words, f"{where}.{name} is null, documented as {kind}"
            continue
        [base] = [word for word in words if word != "null"]
        assert isinstance(item, TYPES[base]), f"{where}.{name} is {item!r}, documented as {kind}"
        assert not (isinstance(item, bool) and base in ("integer", "number")), f"{where}.{name} is a boolean"
        if base == "object" and name in TABLES:
            assert_as_documented(item, name, f"{where}.{name}")
        if base == "list" and name in TABLES:
            for number, element in enumerate(item):
                assert_as_documented(element, name, f"{where}.{name}[{number}]")


def day(number, **overrides):
    """A play on the ``number``th of November 2018."""
    return event(**{"ts": 1541030400000 + number * DAY, "sessionId": 100 + number, **overrides})


def add_day(source, number, *events):
    (source / "log_data" / "2018" / "11" / f"2018-11-{number:02d}-events.json").write_text(
        "\n".join(json.dumps(item) for item in events) + "\n", encoding="utf-8")


def json_run(tmp_path, *argv):
    """(exit status, the --json document, standard error) of etl.py with ``argv``."""
    path = tmp_path / f"run-{time.monotonic_ns()}.json"
    status, _, err = run_main(etl.main, [*argv, "--json", str(path)])
    return status, json.loads(path.read_text(encoding="utf-8")), err


# ---------------------------------------------------------------------------
# Every kind of run writes every documented field, typed as documented
# ---------------------------------------------------------------------------

KINDS = {  # kind: (exit status, committed, mode, whether files are chosen)
    "full run": (0, True, "full", True),
    "daily run": (0, True, "daily", True),
    "nothing new": (0, False, "daily", True),
    "failed after choosing its files": (1, False, "daily", True),
    "failed before choosing its files": (2, False, None, False),
    "--check": (0, False, "check", False),
    "refused": (2, False, None, False),
}


@pytest.fixture(scope="module")
def documents(warehouse, tmp_path_factory):
    """The --json document of each kind of run, in one warehouse, one after the other."""
    tmp_path = tmp_path_factory.mktemp("documents")
    source = write_source(tmp_path / "source", events=[day(1), day(1, itemInSession=2)], songs=[song()])
    warehouse.create()
    target = ["--dsn", warehouse.dsn, "--source", str(source)]
    runs = {"full run": json_run(tmp_path, *target, "--full")}
    add_day(source, 2, day(2))
    runs["daily run"] = json_run(tmp_path, *target)
    runs["nothing new"] = json_run(tmp_path, *target)
    add_day(source, 3, day(3), day(3, sessionId="abc"))
    runs["failed after choosing its files"] = json_run(tmp_path, *target)
    runs["failed before choosing its files"] = json_run(  # the server refuses the connection
        tmp_path, "--dsn", make_dsn(warehouse.dsn, dbname="no_such_database"), "--source", str(source))
    runs["--check"] = json_run(tmp_path, "--dsn", warehouse.dsn, "--check")
    runs["refused"] = json_run(tmp_path, "--dsn", warehouse.dsn, "--pgdata", str(tmp_path / "pg"))
    return runs


@pytest.mark.parametrize("kind", KINDS)
def test_every_documented_field_is_there_typed_as_documented(documents, kind):
    status, document, err = documents[kind]
    assert_as_documented(document)
    exit_status, committed, mode, chosen = KINDS[kind]
    assert (status, document["exit_status"], document["committed"], document["mode"]) == (
        exit_status, exit_status, committed, mode), err
    assert (document["files"] is not None) == chosen
    assert (document["error"] is None) == (exit_status == 0)
    if document["error"]:
        assert err.startswith(document["error"])


def test_a_run_that_fails_after_choosing_its_files_says_which_and_what_it_did(documents):
    _, document, _ = documents["failed after choosing its files"]
    assert document["reason"] == "only the new files staged"
    assert document["files"]["staged"] == ["log_data/2018/11/2018-11-03-events.json"]
    assert [step["action"] for step in document["steps"]] == ["listing"]
    assert document["steps"][0]["files"] == 4
    assert document["rejected_records"][0]["file"] == "log_data/2018/11/2018-11-03-events.json"


def test_each_step_is_a_table_and_an_action(documents):
    _, document, _ = documents["daily run"]
    steps = [(step["table"], step["action"], step["rows"]) for step in document["steps"]]
    assert ("songplay_table", "plays added", 1) in steps and ("songplay_table", "plays replaced", 0) in steps
    assert ("staging_events", "rows staged", 1) in steps and (None, "checks", None) in steps
    assert len({(table, action) for table, action, _ in steps}) == len(steps)  # one each


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_is_keyed_and_timed_in_utc(documents, kind):
    _, document, _ = documents[kind]
    started, ended = (datetime.fromisoformat(document[name]) for name in ("started_at", "ended_at"))
    for name in ("started_at", "ended_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document[name])
    assert started.utcoffset().total_seconds() == 0
    assert document["seconds"] == pytest.approx((ended - started).total_seconds(), abs=0.0015)
    assert len({run[1]["run_id"] for run in documents.values()}) == len(documents)


def test_seconds_are_the_whole_command_the_embedded_servers_start_included(warehouse, tmp_path, monkeypatch):
    source = write_source(tmp_path / "source", events=[day(1)], songs=[song()])
    warehouse.create()

    def slow_start(folder):  # a server that takes a while to start, as a first start does
        time.sleep(0.6)
        return warehouse.dsn

    monkeypatch.setattr(embedded, "start", slow_start)
    status, document, err = json_run(tmp_path, "--pgdata", str(tmp_path / "pg"), "--source", str(source))
    assert status == 0, err
    assert document["seconds"] >= 0.6
    assert sum(step["seconds"] for step in document["steps"]) < 0.6


def test_the_pages_example_is_a_document_as_the_page_documents_it():
    example = re.search(r"## An example: a daily run\n.*?```json\n(.*?)```", PAGE.read_text(encoding="utf-8"),
                        re.S).group(1)
    document = json.loads(example)
    assert_as_documented(document)
    assert document["mode"] == "daily" and document["committed"] is True


# ---------------------------------------------------------------------------
# Where --json may write: refused before the run, nothing touched
# ---------------------------------------------------------------------------


def place(tmp_path, case):
    """(extra arguments, the --json path) for each place a run must never write, set up under tmp_path."""
    source = tmp_path / "source"
    pgdata = tmp_path / "pg"
    pgdata.mkdir(mode=0o700)
    (pgdata / "postgresql.conf").write_text("listen_addresses = ''\n")
    (tmp_path / "dwh.cfg").write_text("[S3]\nREGION=us-west-2\n")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "to-pgdata.json").symlink_to(pgdata / "postgresql.conf")
    (tmp_path / "into-source").symlink_to(source / "log_data")
    os.mkfifo(tmp_path / "fifo")
    return {
        "a source file": ([], source / "log_data/2018/11/2018-11-01-events.json"),
        "a new file in the source": ([], source / "log_data/2018/11/run.json"),
        "a new file in the source, through a link": ([], tmp_path / "into-source/run.json"),
        "the data folder's postgresql.conf": (["--pgdata", str(pgdata)], pgdata / "postgresql.conf"),
        "a link to the data folder's postgresql.conf": (["--pgdata", str(pgdata)], tmp_path / "to-pgdata.json"),
        "a new data folder": (["--pgdata", str(tmp_path / "new-pg")], tmp_path / "new-pg/run.json"),
        "the config": (["--config", str(tmp_path / "dwh.cfg")], tmp_path / "dwh.cfg"),
        "a config not there yet": (["--config", str(tmp_path / "new.cfg")], tmp_path / "new.cfg"),
        "the bundled sample": ([], BUNDLED_SAMPLE / "log_data/2018/11/run.json"),
        "a file that is not a result": ([], tmp_path / "notes.txt"),
        "a script of the project": ([], PROJECT_DIR / "etl.py"),
        "a folder": ([], tmp_path),
        "a FIFO": ([], tmp_path / "fifo"),
        "a device": ([], "/dev/full"),
        "a folder that is not there": ([], tmp_path / "nowhere/run.json"),
    }[case]


def tree(folder):
    """Every file under ``folder`` and its bytes (a FIFO's: none), links not followed."""
    return {path: (None if not path.is_file() or path.is_symlink() else path.read_bytes())
            for path in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", [
    "a source file", "a new file in the source", "a new file in the source, through a link",
    "the data folder's postgresql.conf", "a link to the data folder's postgresql.conf", "a new data folder",
    "the config", "a config not there yet", "the bundled sample", "a file that is not a result",
    "a script of the project", "a folder", "a FIFO", "a device", "a folder that is not there",
])
def test_json_is_refused_where_a_run_must_never_write_and_nothing_is_touched(warehouse, tmp_path, monkeypatch, case):
    source = write_source(tmp_path / "source", events=[day(1)], songs=[song()])
    warehouse.create()
    extra, path = place(tmp_path, case)
    target = [] if "--pgdata" in extra else ["--dsn", warehouse.dsn]
    monkeypatch.setattr(embedded, "start", lambda folder: pytest.fail("the embedded PostgreSQL was started"))
    before, sample, script = tree(tmp_path), tree(BUNDLED_SAMPLE), (PROJECT_DIR / "etl.py").read_bytes()
    try:
        status, out, err = run_main(etl.main, [*target, "--source", str(source), *extra, "--json", str(path)])
    finally:  # should they have been written, put them back
        sample_written = (BUNDLED_SAMPLE / "log_data/2018/11/run.json").exists()
        (BUNDLED_SAMPLE / "log_data/2018/11/run.json").unlink(missing_ok=True)
        script_written = (PROJECT_DIR / "etl.py").read_bytes() != script
        if script_written:
            (PROJECT_DIR / "etl.py").write_bytes(script)
    assert status == 2, out + err
    [line] = err.splitlines()
    assert line.startswith(f"error: --json {path} ") and line.endswith("; nothing was run")
    assert tree(tmp_path) == before and tree(BUNDLED_SAMPLE) == sample
    assert not sample_written and not script_written
    assert warehouse.count("loaded_files") == 0  # nothing was loaded


# Names a --json path is built from: folders, links to folders (down, up, into the data folder), files.
SEGMENTS = ["free", "pg", "sub", "new", "to-pg", "to-free", "up", "result.json", "notes.txt", "empty.json",
            "dwh.cfg", "postgresql.conf"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5))
def test_whatever_the_path_a_run_never_writes_into_a_protected_place_or_over_a_file_not_its_own(tmp_path_factory,
                                                                                                 segments):
    root = tmp_path_factory.mktemp("paths")
    for folder in ("free/sub", "pg/sub"):
        (root / folder).mkdir(parents=True)
    for folder in ("free", "free/sub", "pg", "pg/sub"):
        (root / folder / "result.json").write_text('{\n  "schema_version": 1\n}\n')
        (root / folder / "notes.txt").write_text("notes\n")
        (root / folder / "empty.json").write_text("")
        (root / folder / "to-pg").symlink_to(root / "pg")
        (root / folder / "to-free").symlink_to(root / "free")
        (root / folder / "up").symlink_to("..")
    (root / "pg" / "postgresql.conf").write_text("listen_addresses = ''\n")
    (root / "free" / "dwh.cfg").write_text("[S3]\n")
    path = root.joinpath("free", *segments)
    before = tree(root)
    try:
        results = ResultsFile(str(path), [(root / "pg", "the data folder"), (root / "free" / "dwh.cfg", "the config")])
    except Exception as error:  # refused: nothing changed
        assert type(error).__name__ == "TargetError" and str(error).startswith(f"--json {path} ")
        assert tree(root) == before
        return
    results.write({"schema_version": 2})
    after = tree(root)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert len(changed) == 1  # the one file it names
    [written] = changed
    assert root / "pg" not in written.parents and written != root / "free" / "dwh.cfg"
    assert before.get(written) in (None, b"", b'{\n  "schema_version": 1\n}\n')  # new, empty, or a result


# ---------------------------------------------------------------------------
# Written in one step; a write that fails after the commit is never "nothing committed"
# ---------------------------------------------------------------------------


@pytest.fixture
def loaded(warehouse, tmp_path):
    """A warehouse loaded from a source of one day, and the arguments of a daily run of that source."""
    source = write_source(tmp_path / "source", events=[day(1)], songs=[song()])
    warehouse.create()
    assert run_main(etl.main, ["--dsn", warehouse.dsn, "--source", str(source)])[0] == 0
    return source, ["--dsn", warehouse.dsn, "--source", str(source)]


def test_a_json_file_that_cannot_be_written_after_the_commit_keeps_the_old_one_and_says_committed(
    warehouse, loaded, tmp_path, monkeypatch,
):
    source, target = loaded
    path = tmp_path / "run.json"
    path.write_text('{\n  "schema_version": 2, "an earlier run": true\n}\n')
    path.chmod(0o640)
    add_day(source, 2, day(2))

    def full_disk(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    status, _, err = run_main(etl.main, [*target, "--json", str(path)])
    assert status == 3
    assert err.splitlines() == [f"error: the load is committed, but --json {path} could not be written (No space "
                                "left on device): it is as it was (exit status 3)"]
    assert path.read_text() == '{\n  "schema_version": 2, "an earlier run": true\n}\n'
    assert sorted(tmp_path.iterdir()) == [path, tmp_path / "source"]  # no temporary file left
    assert warehouse.count("songplay_table") == 2  # the day is loaded
    monkeypatch.undo()
    status, _, err = run_main(etl.main, [*target, "--json", str(path)])
    assert status == 0 and json.loads(path.read_text())["mode"] == "daily"
    assert path.stat().st_mode & 0o777 == 0o640  # replaced, its mode kept


def test_a_json_folder_removed_during_the_run_is_exit_status_3_after_a_commit(warehouse, loaded, tmp_path,
                                                                                monkeypatch):
    source, target = loaded
    folder = tmp_path / "results"
    folder.mkdir()
    add_day(source, 2, day(2))
    finished = pipeline.finished

    def and_remove_the_folder(*args, **kwargs):  # the disk the results go to is unmounted mid-run
        folder.rmdir()
        return finished(*args, **kwargs)

    monkeypatch.setattr(pipeline, "finished", and_remove_the_folder)
    status, _, err = run_main(etl.main, [*target, "--json", str(folder / "run.json")])
    assert status == 3, err
    assert err.startswith("error: the load is committed, but --json ")
    assert warehouse.count("songplay_table") == 2


def test_a_failed_run_whose_json_cannot_be_written_keeps_its_status(warehouse, loaded, tmp_path, monkeypatch):
    source, target = loaded
    add_day(source, 2, day(2, sessionId="abc"))
    monkeypatch.setattr(atomic.os, "fsync", lambda descriptor: (_ for _ in ()).throw(OSError(28, "No space")))
    status, _, err = run_main(etl.main, [*target, "--json", str(tmp_path / "run.json")])
    assert status == 1
    assert f"error: --json {tmp_path / 'run.json'} could not be written (No space): it is as it was" in err
    assert warehouse.count("songplay_table") == 1
