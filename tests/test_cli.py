"""The command lines: --version everywhere, --json for orchestrators, progress in a log, a reference held to --help."""

import json
import re

import pytest
from helpers import PROJECT_DIR, event, run_script, song, write_source

SCRIPTS = ["create_tables.py", "etl.py", "query.py", "doctor.py", "cluster.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_prints_its_version(script):
    result = run_script(script, "--version")
    assert result.returncode == 0
    assert re.fullmatch(rf"{re.escape(script)} \(sparkify\) \d+\.\d+\.\d+\n", result.stdout)


def test_the_command_line_reference_is_each_scripts_help():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cli", PROJECT_DIR / "docs" / "make_cli.py")
    make_cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_cli)
    page = (PROJECT_DIR / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == make_cli.render(), "regenerate it: python docs/make_cli.py > docs/cli.md"


def documented_fields():
    """The fields of docs/run-results.md's table, in order."""
    page = (PROJECT_DIR / "docs" / "run-results.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `(\w+)` \|", page, re.MULTILINE)


@pytest.fixture
def source(tmp_path):
    return write_source(tmp_path / "source", events=[event(), event(sessionId=2, ts=1541106400000)], songs=[song()])


def test_json_holds_the_run_as_docs_run_results_describes_it(warehouse, source, tmp_path):
    path = tmp_path / "run.json"
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(source), "--full", "--json", str(path))
    assert result.returncode == 0, result.stderr
    run = json.loads(path.read_text())
    assert list(run) == documented_fields()
    assert (run["mode"], run["committed"], run["exit_status"], run["error"]) == ("full", True, 0, None)
    assert run["engine"] == "postgres" and "password" not in run["target"]
    assert run["files"]["staged"] == [
        "log_data/2018/11/2018-11-01-events.json", "song_data/A/B/C/TRABC0000000000000.json",
    ]
    assert [step["name"] for step in run["steps"]][:2] == ["staging_events", "staging_songs"]
    assert {step["name"]: step["rows"] for step in run["steps"]}["songplay_table"] == 2
    assert len(run["checks"]) == 14 and all(check["passed"] for check in run["checks"])
    assert set(run["checks"][0]) == {"name", "expected", "actual", "how", "passed"}
    assert run["figures"] == {"plays": 2, "matched_plays": 2, "duplicate_events": 0}  # both play the one song


def test_json_of_a_failed_run_names_the_error_and_the_rejected_records(warehouse, tmp_path):
    bad = write_source(tmp_path / "bad", events=[event(), event(sessionId="abc")], songs=[song()])
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(bad), "--replace-source", "--full", "--json",
                        "-")
    assert result.returncode == 1
    run = json.loads(result.stdout)  # the summary went to stderr
    assert (run["committed"], run["exit_status"]) == (False, 1)
    assert run["error"].startswith(
        "error: staging_events: log_data/2018/11/2018-11-01-events.json:2, column session_id"
    )
    [record] = run["rejected_records"]
    assert (record["file"], record["line"], record["column"]) == ("log_data/2018/11/2018-11-01-events.json", 2,
                                                                  "session_id")


def test_the_transform_shows_each_statement_in_a_log_line_by_line(warehouse, source):
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(source), "--replace-source", "--full")
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stdout.splitlines()
                if re.fullmatch(r"\w+: (\d[\d,]* rows, )?\d+\.\d\d s", line)]
    assert [line.split(":")[0] for line in progress] == [
        "artist_table", "song_table", "user_table", "time_table", "songplay_table",
    ]


def test_quiet_prints_the_target_and_one_line(warehouse, source):
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(source), "--replace-source", "--full",
                        "--quiet")
    assert result.returncode == 0, result.stderr
    target, summary = result.stdout.splitlines()
    assert target.startswith("Target: ") and "All 14 checks passed" in summary
