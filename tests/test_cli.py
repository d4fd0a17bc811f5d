"""The command lines: --version everywhere, --json of a failed run, a reference held to --help."""

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
