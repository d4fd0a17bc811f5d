"""The ETL as a whole: idempotent, all-or-nothing, and every record accounted for."""

import json

import pytest
from helpers import BUNDLED_SAMPLE, Warehouse, event, run_script, song, write_source

from sparkify.checks import reconciliation_sql as check_sql
from sparkify.engines.embedded import fresh_schema
from sparkify.engines.local_loader.staging import LoadError
from sparkify.output.summary import summary
from sparkify.results import CheckFailed


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
    assert [len(load.rejected) for load in result.loads] == [0, 0]
    assert all(check.passed for check in result.checks)
    assert result.figures.matched_plays > 0
    first = warehouse.snapshot()
    warehouse.load(BUNDLED_SAMPLE)
    assert warehouse.snapshot() == first


def test_generated_data_loads_with_no_rejects(warehouse, tmp_path):
    from sparkify import sample_data
    sample_data.generate(tmp_path / "generated", songs=150, events=2_000, days=5, seed=7)
    result = warehouse.load(tmp_path / "generated")
    assert [len(load.rejected) for load in result.loads] == [0, 0]
    assert result.loads[0].rows == 2_000
    assert result.loads[1].rows == 150
    assert result.committed


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
    assert result.loads[0].rows == 2
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
    monkeypatch.setitem(check_sql.check_queries, "a check that fails", "SELECT 0, 1")
    with pytest.raises(CheckFailed):
        warehouse.load(write_source(small_source.parent / "other", events=[event(ts=1541106999000)]))
    assert warehouse.snapshot() == before


def test_postgres_enforces_keys_and_relationships_so_those_checks_name_the_constraint(warehouse, small_source):
    checks = {check.name: check for check in warehouse.load(small_source).checks}
    assert checks["songplay_table key unique and not null"].enforced_by == "PRIMARY KEY (songplay_id)"
    assert checks["songplay_table.user_id -> user_table present"].enforced_by == (
        "FOREIGN KEY (user_id) REFERENCES user_table(user_id)"
    )
    assert sum(check.enforced_by is not None for check in checks.values()) == len(check_sql.check_constraints)
    plays = checks[check_sql.PLAYS_CHECK]
    assert plays.enforced_by is None and plays.expected == plays.actual == 3  # no constraint says it: counted


@pytest.fixture
def own_warehouse(dsn):
    """A warehouse of this test's own: the test changes its constraints."""
    warehouse = Warehouse(fresh_schema(dsn, "test_etl_constraints"))
    warehouse.create()
    yield warehouse
    warehouse.connection.close()


USER_FOREIGN_KEY = "FOREIGN KEY (user_id) REFERENCES user_table(user_id)"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("", id="dropped"),
        pytest.param(f"ADD CONSTRAINT user_fk {USER_FOREIGN_KEY} NOT VALID", id="not validated"),
        pytest.param(f"ADD CONSTRAINT user_fk {USER_FOREIGN_KEY} NOT ENFORCED", id="not enforced"),
    ],
)
def test_a_check_counts_where_its_constraint_is_missing_or_not_enforced(own_warehouse, small_source, change):
    [(name, version)] = own_warehouse.query(
        "SELECT conname, current_setting('server_version_num')::int FROM pg_constraint "
        "WHERE conrelid = 'songplay_table'::regclass AND pg_get_constraintdef(oid) = %s",
        (USER_FOREIGN_KEY,),
    )
    if "NOT ENFORCED" in change and version < 180000:
        pytest.skip("NOT ENFORCED foreign keys are new in PostgreSQL 18")
    with own_warehouse.connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE songplay_table DROP CONSTRAINT "{name}"')
        if change:
            cursor.execute(f"ALTER TABLE songplay_table {change}")
    own_warehouse.connection.commit()
    checks = {check.name: check for check in own_warehouse.load(small_source).checks}
    counted = checks["songplay_table.user_id -> user_table present"]
    assert counted.enforced_by is None
    assert (counted.expected, counted.actual) == (0, 0)
    assert checks["songplay_table.song_id -> song_table present"].enforced_by is not None


def test_the_summary_times_the_listing_and_the_checks(warehouse, small_source):
    result = warehouse.load(small_source)
    steps = {line.split()[0]: line.split()[1:] for line in summary(result).split("\n\n")[0].splitlines()[2:]}
    files = result.choice
    assert steps["listing"][0] == str(files.new + files.changed + files.skipped)  # every file listed
    assert float(steps["checks"][-1]) == round(result.checks_seconds, 2)
    assert 0 < result.checks_seconds < result.seconds


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
    created = run_script("create_tables.py", "--dsn", warehouse.dsn, "--drop-data")
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
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(bad), "--replace-source")
    assert result.returncode == 1
    assert "log_data/2018/11/2018-11-01-events.json:2" in result.stderr
    assert "Traceback" not in result.stderr


def test_dry_run_prints_redshift_sql_without_connecting():
    result = run_script("create_tables.py", "--dry-run", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 0
    assert "DISTSTYLE ALL" in result.stdout
    assert result.stdout.count("CREATE TABLE") == 9
