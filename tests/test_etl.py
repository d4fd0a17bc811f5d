"""The ETL as a whole: idempotent, all-or-nothing, and every record accounted for."""

import json
import subprocess
import sys

import pytest
from conftest import BUNDLED_SAMPLE, PROJECT_DIR, event, song, write_source

import etl
import sql_queries as q
from staging_loader import LoadError


@pytest.fixture
def small_source(tmp_path):
    events = [
        event(),
        event(itemInSession=2, ts=1541106132796, song="Nothing Matches", artist="Nobody"),
        event(page="Home", itemInSession=3, ts=1541106140000, song=None, artist=None, length=None),
        event(auth="Logged Out", userId="", firstName=None, lastName=None, gender=None,
              page="NextSong", sessionId=200, itemInSession=0, ts=1541106150000),
    ]
    return write_source(tmp_path / "good", events=events, songs=[song()])


def test_running_twice_gives_identical_tables(warehouse, small_source):
    warehouse.load(small_source)
    first = warehouse.snapshot()
    warehouse.load(small_source)
    assert warehouse.snapshot() == first
    assert warehouse.count("songplay_table") == 3


def test_bundled_sample_loads_twice_identically_with_no_rejects(warehouse):
    if not BUNDLED_SAMPLE.exists():
        pytest.skip("data/sample is not there")
    result = warehouse.load(BUNDLED_SAMPLE)
    assert [len(load.rejected) for load in result["loads"]] == [0, 0]
    assert all(expected == actual for _, expected, actual in result["checks"])
    assert result["matched_plays"] > 0
    first = warehouse.snapshot()
    warehouse.load(BUNDLED_SAMPLE)
    assert warehouse.snapshot() == first


def test_generated_data_loads_with_no_rejects(warehouse, tmp_path):
    sample_data = pytest.importorskip("sample_data")
    sample_data.generate(tmp_path / "generated", songs=150, events=2_000, days=5, seed=7)
    result = warehouse.load(tmp_path / "generated")
    assert [len(load.rejected) for load in result["loads"]] == [0, 0]
    assert result["loads"][0].rows == 2_000
    assert result["loads"][1].rows == 150
    assert result["committed"]


BAD_EVENT_LINES = [
    pytest.param('{"artist": "x", "ts": 1541106106796', "invalid JSON", id="cut mid-object"),
    pytest.param(json.dumps(event(sessionId="abc")), "session_id 'abc' is not an integer", id="wrong type"),
    pytest.param(json.dumps(event(length="long")), "length 'long' is not a number", id="string duration"),
    pytest.param(json.dumps(event(ts=None)), "ts has no value, and the column is NOT NULL", id="missing ts"),
    pytest.param(json.dumps(event(song="x" * 2000)), "song is 2000 bytes long", id="too long"),
    pytest.param(json.dumps(event(song="\u00e9" * 600)), "song is 1200 bytes long", id="too long in bytes"),
]


@pytest.mark.parametrize("bad_line, reason", BAD_EVENT_LINES)
def test_a_rejected_record_fails_the_load_naming_file_and_line(warehouse, small_source, tmp_path, bad_line, reason):
    warehouse.load(small_source)
    before = warehouse.snapshot()
    bad = write_source(tmp_path / "bad", events=[event(), bad_line, event(itemInSession=5)])
    with pytest.raises(LoadError) as failure:
        warehouse.load(bad)
    message = str(failure.value)
    assert "log_data/2018/11/2018-11-01-events.json:2" in message
    assert reason in message
    assert warehouse.snapshot() == before, "the previous warehouse must be unchanged"


@pytest.mark.parametrize("bad_line, reason", BAD_EVENT_LINES)
def test_max_errors_loads_the_rest_and_keeps_the_rejected(warehouse, tmp_path, bad_line, reason):
    bad = write_source(tmp_path / "bad", events=[event(), bad_line, event(itemInSession=5)])
    result = warehouse.load(bad, max_errors=1)
    assert result["loads"][0].rows == 2
    [rejected] = warehouse.table("rejected_records", "table_name, source_file, line_number, reason")
    assert rejected[:3] == ("staging_events", "log_data/2018/11/2018-11-01-events.json", 2)
    assert reason in rejected[3]


def test_max_errors_still_fails_past_n(warehouse, tmp_path):
    bad = write_source(tmp_path / "bad", events=["oops", event(), "oops again", "and again"])
    with pytest.raises(LoadError, match="more than --max-errors 2"):
        warehouse.load(bad, max_errors=2)


def test_a_bad_song_file_is_rejected_with_its_path(warehouse, tmp_path):
    bad = write_source(tmp_path / "bad", events=[event()], songs=[song(), song(duration="long")])
    with pytest.raises(LoadError, match=r"song_data/A/B/C/TRABC0000000000001.json:1, column duration"):
        warehouse.load(bad)


def test_a_failed_check_rolls_everything_back(warehouse, small_source, monkeypatch):
    warehouse.load(small_source)
    before = warehouse.snapshot()
    monkeypatch.setitem(q.check_queries, "a check that fails", "SELECT 0, 1")
    with pytest.raises(etl.CheckFailed):
        warehouse.load(write_source(small_source.parent / "other", events=[event(ts=1541106999000)]))
    assert warehouse.snapshot() == before


def test_a_jsonpaths_file_that_does_not_fit_the_table_is_an_error(warehouse, tmp_path):
    source = write_source(tmp_path, events=[event()], jsonpaths={"jsonpaths": ["$['artist']"]})
    with pytest.raises(LoadError, match="has 1 paths but staging_events has 18 columns"):
        warehouse.load(source)


def test_a_missing_jsonpaths_file_is_an_error(warehouse, tmp_path):
    source = write_source(tmp_path, events=[event()], jsonpaths=None)
    with pytest.raises(LoadError, match="log_json_path.json not found"):
        warehouse.load(source)


# ---------------------------------------------------------------------------
# The scripts, as a person runs them
# ---------------------------------------------------------------------------


def run_script(*args):
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "script, options",
    [
        ("create_tables.py", ["--dsn", "--config", "--pgdata", "--engine", "--dry-run", "--quiet"]),
        ("etl.py", ["--dsn", "--config", "--pgdata", "--source", "--max-errors", "--engine", "--workers", "--quiet"]),
    ],
)
def test_help_explains_every_option(script, options):
    result = run_script(script, "--help")
    assert result.returncode == 0
    for option in options:
        assert option in result.stdout


def test_scripts_print_the_target_first_and_the_summary_last(warehouse, small_source):
    created = run_script("create_tables.py", "--dsn", warehouse.dsn)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Target: ")
    loaded = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(small_source))
    assert loaded.returncode == 0, loaded.stderr
    lines = loaded.stdout.splitlines()
    assert lines[0].startswith("Target: ")
    assert lines[-1].startswith("All 14 checks passed")
    assert "PASS" in loaded.stdout and "FAIL" not in loaded.stdout


def test_etl_exit_code_is_non_zero_and_the_error_names_the_place(warehouse, tmp_path):
    bad = write_source(tmp_path / "bad", events=[event(), "not json"])
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(bad))
    assert result.returncode == 1
    assert "log_data/2018/11/2018-11-01-events.json:2" in result.stderr
    assert "Traceback" not in result.stderr


def test_dry_run_prints_redshift_sql_without_connecting():
    result = run_script("create_tables.py", "--dry-run", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 0
    assert "DISTSTYLE ALL" in result.stdout
    assert result.stdout.count("CREATE TABLE") == 9
