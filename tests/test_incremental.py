"""Incremental loads: a daily run stages only the new files, with the result of a full reload.

Each test starts from empty tables, loads a source folder in batches (copying
day files into it between runs, as the app's delivery would), and compares
every row of every star and staging table with one full load of the same
final folder (songplay_id left out).
"""

import json
import os
import re
import shutil
import time
from datetime import date

import pytest
import sqlglot
from helpers import assert_equals_a_full_load, checks_of, daily_run, event, run_script, song, write_source
from sqlglot import exp

import sql_queries as q
from sparkify import api
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.output.summary import summary
from sparkify.results import CheckFailed, Refused
from sparkify.run import daily_load_sql as daily_sql
from sparkify.run import ledger as incremental
from sparkify.sources import SourceFile
from sparkify.sources.folder import mtime_version, version_nanoseconds

DAYS = 30


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A generated month of logs and its catalogue."""
    from sparkify import sample_data
    folder = tmp_path_factory.mktemp("month")
    sample_data.generate(folder, songs=300, events=6_000, days=DAYS, seed=11, start="2018-11-01")
    return folder


@pytest.fixture
def delivery(month, tmp_path):
    """The folder the daily runs read, empty but for log_json_path.json; deliver() copies files into it."""
    folder = tmp_path / "source"
    folder.mkdir()
    shutil.copy(month / "log_json_path.json", folder)
    return Delivery(month, folder)


class Delivery:
    def __init__(self, month, folder):
        self.month = month
        self.folder = folder
        self.logs = sorted((month / "log_data").rglob("*.json"))
        self.songs = sorted((month / "song_data").rglob("*.json"))

    def deliver(self, files):
        for path in files:
            target = self.folder / path.relative_to(self.month)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)

    def days(self, first, last):
        """Log files of days ``first`` to ``last`` of the month (1-based, inclusive)."""
        return self.logs[first - 1:last]


# ---------------------------------------------------------------------------
# The same tables as one full load
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param([(1, 15), (16, 30)], id="days 1-15 then 16-30"),
        pytest.param([(1, 3), (4, 20), (21, 30)], id="three uneven batches"),
        pytest.param([(1, 1), (2, 2), (3, 3), (4, 30)], id="day by day, then the rest"),
        pytest.param([(20, 30), (1, 19)], id="the earlier days last: no user gets an older level"),
    ],
)
def test_loading_in_batches_equals_one_full_load(warehouse, delivery, batches):
    delivery.deliver(delivery.songs)
    for first, last in batches:
        delivery.deliver(delivery.days(first, last))
        result = daily_run(warehouse, delivery.folder)
        assert result.committed
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_only_the_new_files_are_staged(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 15))
    first = daily_run(warehouse, delivery.folder)
    assert first.choice.full and first.choice.reason == "the ledger is empty: everything loaded"
    delivery.deliver(delivery.days(16, 16))
    second = daily_run(warehouse, delivery.folder)
    choice = second.choice
    assert (choice.full, choice.new, choice.changed, choice.skipped) == (False, 1, 0, 15 + len(delivery.songs))
    assert [load.files for load in second.loads] == [1, 0]
    steps = {step.name: step.rows for step in second.steps}
    assert steps["staging_events: rows appended"] == second.loads[0].rows > 0
    assert steps["songplay_table: plays added"] > 0
    assert steps["songplay_table: plays replaced"] == 0


def test_song_files_arriving_late_rematch_the_plays(warehouse, delivery):
    warehouse.create()
    half = len(delivery.songs) // 2
    delivery.deliver(delivery.songs[:half] + delivery.days(1, 20))
    daily_run(warehouse, delivery.folder)
    matched_before = warehouse.query("SELECT COUNT(*) FROM songplay_table WHERE song_id IS NOT NULL")[0][0]
    delivery.deliver(delivery.songs[half:] + delivery.days(21, 30))
    result = daily_run(warehouse, delivery.folder)
    steps = {step.name: step.rows for step in result.steps}
    assert steps["songplay_table: plays replaced"] > 0
    assert result.figures.matched_plays > matched_before
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_a_day_delivered_again_under_another_name_counts_each_event_once(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 10))
    daily_run(warehouse, delivery.folder)
    plays = warehouse.count("songplay_table")
    day_five = delivery.days(5, 5)[0]
    copy = delivery.folder / day_five.relative_to(delivery.month).with_name("2018-11-05-events-resent.json")
    shutil.copy(day_five, copy)
    result = daily_run(warehouse, delivery.folder)
    assert (result.choice.new, result.choice.full) == (1, False)
    assert result.figures.duplicate_events > 0
    assert warehouse.count("songplay_table") == plays
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_a_day_file_written_again_reloads_everything_and_says_why(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 10))
    daily_run(warehouse, delivery.folder)
    day_five = delivery.folder / delivery.days(5, 5)[0].relative_to(delivery.month)
    stat = day_five.stat()
    os.utime(day_five, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    result = daily_run(warehouse, delivery.folder)
    choice = result.choice
    assert (choice.full, choice.changed) == (True, 1)
    assert choice.reason == "log_data/2018/11/2018-11-05-events.json changed since it was loaded: everything reloaded"
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_a_backfill_by_date_then_the_rest(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.logs)
    first = daily_run(warehouse, delivery.folder, until=date(2018, 11, 12))
    assert first.loads[0].files == 12 and first.choice.outside == DAYS - 12
    second = daily_run(warehouse, delivery.folder, since=date(2018, 11, 20))
    assert second.loads[0].files == DAYS - 19 and second.choice.outside == 19
    third = daily_run(warehouse, delivery.folder)
    assert third.loads[0].files == 7
    assert_equals_a_full_load(warehouse, delivery.folder)


# ---------------------------------------------------------------------------
# The checks of a daily run: each table grew by its new keys
# ---------------------------------------------------------------------------


def test_a_daily_run_checks_that_each_table_grew_by_its_new_keys(warehouse, delivery):
    warehouse.create()
    half = len(delivery.songs) // 2
    delivery.deliver(delivery.songs[:half] + delivery.days(1, 10))
    daily_run(warehouse, delivery.folder)
    before = {table: warehouse.count(table) for table in q.star_tables}
    delivery.deliver(delivery.songs[half:] + delivery.days(11, 12))
    day_five = delivery.folder / delivery.days(5, 5)[0].relative_to(delivery.month)
    shutil.copy(day_five, day_five.with_name("2018-11-05-events-resent.json"))  # new to the ledger, not to staging
    result = daily_run(warehouse, delivery.folder)
    assert (result.choice.new, result.choice.full) == (len(delivery.songs) - half + 3, False)
    checks = checks_of(result)
    for name, (table, _) in check_sql.change_checks.items():
        grown = warehouse.count(table) - before[table]
        assert checks[name].passed and checks[name].expected == grown > 0, name
    assert len(checks) == 14 and all(check.passed for check in checks.values())


@pytest.mark.parametrize("table, mistake, failing", [
    pytest.param("songplay_table", "DELETE FROM songplay_table USING songplay_table_changes AS changes "
                 "WHERE changes.start_time = songplay_table.start_time",
                 "songplays added = new distinct NextSong events", id="new plays not written"),
    pytest.param("songplay_table", "DELETE FROM songplay_table WHERE songplay_id = (SELECT MIN(songplay_id) "
                 "FROM songplay_table)", "songplays added = new distinct NextSong events", id="an old play lost"),
    pytest.param("user_table", "INSERT INTO user_table (user_id, level) VALUES (-1, 'free')",
                 "users added = new staged user ids", id="a user no event has"),
    pytest.param("song_table", "INSERT INTO song_table (song_id) VALUES ('SONOBODY')",
                 "songs added = new staged song ids", id="a song no record has"),
    pytest.param("artist_table", "INSERT INTO artist_table (artist_id) VALUES ('ARNOBODY')",
                 "artists added = new staged artist ids", id="an artist no record has"),
    pytest.param("time_table", "INSERT INTO time_table VALUES (TIMESTAMP '1999-12-31 23:59:59', 23, 31, 52, 12, "
                 "1999, 5)", "time rows added = new play start times", id="a time no play has"),
])
def test_a_daily_run_that_changes_a_table_wrongly_fails_its_check_and_commits_nothing(
    warehouse, delivery, monkeypatch, table, mistake, failing,
):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 10))
    daily_run(warehouse, delivery.folder)
    before, ledger = warehouse.snapshot(), warehouse.table("loaded_files")
    delivery.deliver(delivery.days(11, 11))
    monkeypatch.setattr(daily_sql, "incremental_star_queries", [*daily_sql.incremental_star_queries, (table, mistake)])
    with pytest.raises(CheckFailed) as failure:
        daily_run(warehouse, delivery.folder)
    assert [check.name for check in failure.value.result.checks if not check.passed] == [failing]
    assert warehouse.snapshot() == before and warehouse.table("loaded_files") == ledger


def test_a_daily_run_trusts_the_warehouse_it_finds_and_check_looks_at_all_of_it(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 5))
    daily_run(warehouse, delivery.folder)
    whole = run_script("etl.py", "--dsn", warehouse.dsn, "--check")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.splitlines()[-1].startswith("All 14 checks passed on the whole warehouse")
    with warehouse.connection.cursor() as cursor:  # a hand edit between runs
        cursor.execute("DELETE FROM songplay_table WHERE songplay_id = (SELECT MIN(songplay_id) FROM songplay_table)")
    warehouse.connection.commit()
    delivery.deliver(delivery.days(6, 6))
    assert daily_run(warehouse, delivery.folder).committed  # its change is right
    whole = run_script("etl.py", "--dsn", warehouse.dsn, "--check")
    assert whole.returncode == 1, whole.stdout
    failed = re.findall(r"^FAIL +(.+?) +[\d,]+ +[\d,]+ +counted$", whole.stdout, re.M)
    assert failed == ["songplays = distinct NextSong events", "time rows = distinct play start times"]
    assert "2 of 14 checks FAILED" in whole.stdout and "etl.py --full" in whole.stdout
    assert api.run(warehouse.connection, "postgres", delivery.folder).committed
    assert run_script("etl.py", "--dsn", warehouse.dsn, "--check").returncode == 0


# ---------------------------------------------------------------------------
# Nothing new; a failure; the ledger
# ---------------------------------------------------------------------------


def test_a_run_with_nothing_new_changes_nothing_and_says_so(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 5))
    daily_run(warehouse, delivery.folder)
    before = warehouse.snapshot()
    ledger = warehouse.table("loaded_files")
    result = daily_run(warehouse, delivery.folder)
    assert result.choice.nothing_new and not result.committed
    assert warehouse.snapshot() == before and warehouse.table("loaded_files") == ledger
    assert summary(result) == (
        f"files: 0 new, 0 changed, {5 + len(delivery.songs)} skipped (already loaded); "
        "nothing new: the warehouse is unchanged"
    )


def test_a_failure_mid_run_leaves_star_and_ledger_and_the_rerun_completes(warehouse, delivery, monkeypatch):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 15))
    daily_run(warehouse, delivery.folder)
    before, ledger = warehouse.snapshot(), warehouse.table("loaded_files")
    delivery.deliver(delivery.days(16, 16))
    steps = list(daily_sql.incremental_star_queries)
    replace = steps.index(("songplay_table", daily_sql.songplay_table_replace_delete))
    steps.insert(replace, ("songplay_table", "SELECT 1 / 0"))
    monkeypatch.setattr(daily_sql, "incremental_star_queries", steps)
    with pytest.raises(Exception, match="division by zero"):
        daily_run(warehouse, delivery.folder)
    assert warehouse.snapshot() == before
    assert warehouse.table("loaded_files") == ledger
    monkeypatch.undo()
    result = daily_run(warehouse, delivery.folder)
    assert result.choice.new == 1 and result.committed
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_the_ledger_holds_each_file_with_its_rows(warehouse, tmp_path):
    warehouse.create()
    source = write_source(
        tmp_path / "bad", log_files={
            "2018-11-01-events.json": f'{json.dumps(event())}\n"oops"\n{json.dumps(event(itemInSession=2))}\n',
        },
    )
    daily_run(warehouse, source, max_errors=1)
    rows = warehouse.table("loaded_files", "file_key, table_name, size, rows_staged, rows_rejected")
    path = source / "log_data/2018/11/2018-11-01-events.json"
    assert rows == [("log_data/2018/11/2018-11-01-events.json", "staging_events", path.stat().st_size, 2, 1)]
    [(version, where)] = warehouse.query("SELECT version, source FROM loaded_files")
    assert version == mtime_version(path.stat().st_mtime_ns) and where == str(source.resolve())


def test_another_source_is_refused_and_replace_source_reloads_everything_from_it(warehouse, tmp_path):
    warehouse.create()
    first = write_source(tmp_path / "a", events=[event()])
    other = write_source(tmp_path / "b", events=[event(itemInSession=7)])
    daily_run(warehouse, first)
    before, ledger = warehouse.snapshot(), warehouse.table("loaded_files")
    with pytest.raises(Refused, match=f"the warehouse holds {first.resolve()}, and this run's source is "
                                      f"{other.resolve()}: .* etl.py --source {other.resolve()} --replace-source"):
        daily_run(warehouse, other)
    assert (warehouse.snapshot(), warehouse.table("loaded_files")) == (before, ledger)
    result = daily_run(warehouse, other, replace_source=True)
    assert result.choice.reason == (f"--replace-source: the warehouse held {first.resolve()}: everything reloaded "
                                    f"from {other.resolve()}")
    assert warehouse.table("songplay_table", "item_in_session") == [(7,)]
    assert warehouse.query("SELECT DISTINCT source FROM loaded_files") == [(str(other.resolve()),)]


def test_full_reloads_and_rewrites_the_ledger(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 3))
    daily_run(warehouse, delivery.folder)
    result = api.run(warehouse.connection, "postgres", delivery.folder)
    assert result.choice.full and result.choice.reason == "--full: everything reloaded"
    assert warehouse.count("loaded_files") == 3 + len(delivery.songs)


# ---------------------------------------------------------------------------
# Choosing files, without a database
# ---------------------------------------------------------------------------


def source_file(name, size=10, version="1"):
    return SourceFile(name=name, size=size, open=lambda: None, version=version)


def test_the_date_of_a_log_file_is_in_its_path():
    assert incremental.log_date("log_data/2018/11/2018-11-05-events.json") == date(2018, 11, 5)
    assert incremental.log_date("log_data/2018/11/events.json") is None
    assert incremental.in_window("log_data/2018/11/2018-11-05-events.json", date(2018, 11, 5), date(2018, 11, 5))
    assert not incremental.in_window("log_data/2018/11/2018-11-05-events.json", date(2018, 11, 6), None)
    assert not incremental.in_window("log_data/x.json", None, date(2018, 12, 1))
    assert incremental.in_window("log_data/x.json", None, None)


def test_choose_stages_new_files_and_skips_the_rest():
    listing = {
        "log_data": [source_file("log_data/2018-11-01.json"), source_file("log_data/2018-11-02.json")],
        "song_data": [source_file("song_data/A.json")],
    }
    ledger = {"log_data/2018-11-01.json": ("/s", 10, "1"), "song_data/A.json": ("/s", 10, "1")}
    choice = incremental.choose(listing, ledger, "/s")
    assert [item.name for item in choice.staged_files] == ["log_data/2018-11-02.json"]
    assert choice.describe() == "files: 1 new, 0 changed, 2 skipped (already loaded); only the new files staged"


def test_a_reload_keeps_the_days_loaded_outside_the_window():
    listing = {"log_data": [source_file(f"log_data/2018-11-0{day}.json") for day in (1, 2, 3)], "song_data": []}
    ledger = {"log_data/2018-11-01.json": ("/s", 10, "1"), "log_data/2018-11-03.json": ("/s", 10, "0")}
    choice = incremental.choose(listing, ledger, "/s", since=date(2018, 11, 3))
    assert choice.full and [item.name for item in choice.staged_files] == [
        "log_data/2018-11-01.json", "log_data/2018-11-03.json",
    ]


# ---------------------------------------------------------------------------
# The statements
# ---------------------------------------------------------------------------


def test_every_incremental_statement_parses_with_a_redshift_grammar():
    statements = [statement for _, statement in daily_sql.incremental_star_queries]
    statements += [daily_sql.staging_events_new_create, daily_sql.staging_songs_new_create]
    statements += [f"DROP TABLE {table}" for table in daily_sql.incremental_work_tables]
    statements += [q.loaded_files_table_create, incremental.loaded_files_select, incremental.loaded_files_clear]
    statements += [statement for _, statement in check_sql.change_checks.values()]
    statements += [check_sql.star_counts, check_sql.written_plays_count, check_sql.new_nextsong_events_count]
    for statement in statements:
        [parsed] = sqlglot.parse(statement, read="redshift")
        assert not isinstance(parsed, exp.Command), f"not understood: {statement[:80]}"


def test_the_dimensions_are_upserted_and_the_fact_replaced_by_identity():
    assert daily_sql.user_table_merge == """
MERGE INTO user_table
USING user_table_changes
ON user_table.user_id = user_table_changes.user_id
WHEN MATCHED THEN UPDATE SET
    first_name = user_table_changes.first_name,
    last_name = user_table_changes.last_name,
    gender = user_table_changes.gender,
    level = user_table_changes.level
WHEN NOT MATCHED THEN INSERT (user_id, first_name, last_name, gender, level)
VALUES (
    user_table_changes.user_id,
    user_table_changes.first_name,
    user_table_changes.last_name,
    user_table_changes.gender,
    user_table_changes.level
)
"""
    # a text key matches byte for byte: not in a MERGE's ON, which takes column equalities only
    assert daily_sql.song_table_upsert_update == """
UPDATE song_table
SET title = song_table_changes.title,
    artist_id = song_table_changes.artist_id,
    year = song_table_changes.year,
    duration = song_table_changes.duration
FROM song_table_changes
WHERE song_table.song_id = song_table_changes.song_id
    AND OCTET_LENGTH(song_table.song_id) = OCTET_LENGTH(song_table_changes.song_id)
"""
    assert daily_sql.song_table_upsert_insert == """
INSERT INTO song_table (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration
FROM song_table_changes
WHERE NOT EXISTS (
    SELECT 1
    FROM song_table
    WHERE song_table.song_id = song_table_changes.song_id
        AND OCTET_LENGTH(song_table.song_id) = OCTET_LENGTH(song_table_changes.song_id)
)
"""
    # a user's events from their latest new one on are ranked again, not their whole history
    assert "AND events.ts >= new_users.latest\n" in daily_sql.user_table_changes_insert
    # and, for the sort key, only the staged blocks from the new days on are read
    assert "WHERE events.ts >= (SELECT MIN(ts) FROM staging_events_new)\n    ) AS staging_events" in (
        daily_sql.user_table_changes_insert
    )
    assert daily_sql.songplay_table_replace_delete.startswith(
        "\nDELETE FROM songplay_table\nUSING songplay_table_changes"
    )


def test_the_ledger_is_created_and_dropped_with_the_other_tables():
    assert q.loaded_files_table_create in q.create_table_queries
    assert q.loaded_files_table_drop in q.drop_table_queries


# ---------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------


def test_the_daily_command_says_what_it_loaded_then_that_nothing_is_new(warehouse, delivery):
    warehouse.create()
    delivery.deliver(delivery.songs + delivery.days(1, 2))
    first = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(delivery.folder), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "the ledger is empty: everything loaded" in first.stdout
    delivery.deliver(delivery.days(3, 3))
    second = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(delivery.folder), "--quiet")
    assert second.returncode == 0, second.stderr
    assert f"files: 1 new, 0 changed, {2 + len(delivery.songs)} skipped (already loaded)" in second.stdout
    assert "plays this run wrote (added or replaced): " in second.stdout
    assert len(second.stdout.splitlines()) == 2  # --quiet: the target, then one line
    assert "all 14 checks passed" in second.stdout.splitlines()[-1]
    third = run_script("etl.py", "--dsn", warehouse.dsn, "--source", str(delivery.folder), "--quiet")
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[-1].endswith("nothing new: the warehouse is unchanged")


def test_since_after_until_is_refused():
    result = run_script("etl.py", "--since", "2018-11-20", "--until", "2018-11-10", "--dry-run")
    assert result.returncode == 2 and "--since is after --until" in result.stderr


def test_the_ledger_names_an_s3_source_by_its_url_and_a_folder_by_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert incremental.source_identity(type("S3", (), {"label": "s3://bucket/prefix/"})()) == "s3://bucket/prefix"
    assert incremental.source_identity(type("Folder", (), {"label": "data"})()) == str(tmp_path / "data")


def drop_the_ledger(warehouse):
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DROP TABLE loaded_files")
    warehouse.connection.commit()


def test_a_warehouse_created_before_the_ledger_gets_one_from_its_first_load(warehouse, tmp_path):
    warehouse.create()
    drop_the_ledger(warehouse)
    source = write_source(tmp_path / "a", events=[event()])
    assert daily_run(warehouse, source).committed  # it holds nothing: a first load, which creates the ledger
    assert warehouse.table("loaded_files", "file_key") == [("log_data/2018/11/2018-11-01-events.json",)]
    assert daily_run(warehouse, source).choice.nothing_new


def test_rows_without_a_ledger_are_replaced_only_with_replace_source(warehouse, tmp_path):
    """Loaded before the ledger existed, or its rows deleted by hand: which source the rows came from is not
    known, so no run may replace them unasked, --full included."""
    warehouse.create()
    source = write_source(tmp_path / "a", events=[event()])
    daily_run(warehouse, source)
    drop_the_ledger(warehouse)
    before = warehouse.snapshot()
    for full in (False, True):
        with pytest.raises(Refused, match="the warehouse holds rows that its ledger .* records no source for"):
            api.run(warehouse.connection, "postgres", source, full=full, allow_empty=True)
    assert warehouse.snapshot() == before
    assert api.run(warehouse.connection, "postgres", source, allow_empty=True, replace_source=True).committed
    assert warehouse.query("SELECT DISTINCT source FROM loaded_files") == [(str(source.resolve()),)]


def test_a_warehouse_created_before_the_sort_key_index_loads_in_full_and_daily(warehouse, delivery):
    warehouse.create()
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DROP INDEX staging_events_sortkey")
    warehouse.connection.commit()
    delivery.deliver(delivery.songs + delivery.days(1, 2))
    assert api.run(warehouse.connection, "postgres", delivery.folder).committed
    delivery.deliver(delivery.days(3, 3))
    assert daily_run(warehouse, delivery.folder).committed
    assert_equals_a_full_load(warehouse, delivery.folder)


def test_choosing_among_a_hundred_thousand_files_takes_well_under_a_second():
    """Counted in this process's CPU time, so that other work on a busy machine does not fail it."""
    songs = [source_file(f"song_data/{number}.json") for number in range(100_000)]
    listing = {"log_data": [source_file("log_data/2018-11-01.json")], "song_data": songs}
    started = time.process_time()
    for ledger in ({}, {item.name: ("/s", 10, "1") for item in songs}):
        for full in (False, True):
            incremental.choose(listing, ledger, "/s", full=full)
    assert time.process_time() - started < 1.0


def test_a_folder_files_version_in_the_ledger_reads_as_a_time(warehouse, tmp_path):
    source = write_source(tmp_path / "source", events=[event()], songs=[song()])
    assert api.run(warehouse.connection, "postgres", source, full=True).committed
    versions = [version for (version,) in warehouse.query("SELECT version FROM loaded_files")]
    assert len(versions) == 2
    for version in versions:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", version)


def test_a_ledger_written_with_raw_nanoseconds_still_knows_its_files(warehouse, tmp_path):
    """A ledger from before the readable versions: its files are not taken for changed ones."""
    warehouse.create()
    source = write_source(tmp_path / "source", events=[event()], songs=[song()])
    assert api.run(warehouse.connection, "postgres", source, full=True).committed
    with warehouse.connection.cursor() as cursor:
        for name, version in warehouse.query("SELECT file_key, version FROM loaded_files"):
            cursor.execute("UPDATE loaded_files SET version = %s WHERE file_key = %s",
                           (str(version_nanoseconds(version)), name))
    warehouse.connection.commit()
    again = api.run(warehouse.connection, "postgres", source, full=False)
    assert again.choice.describe() == (
        "files: 0 new, 0 changed, 2 skipped (already loaded); nothing new: the warehouse is unchanged"
    )
