"""What a full load costs grows with the data, not faster: each statement holds the catalogue, the users or a
few rows at a time in memory, never the month's events; the star's keys are built after their rows; the checks
take the star's counts from what the load wrote; the transform's memory follows what was staged."""

import json
import re

import psycopg2
import psycopg2.extensions
import pytest
from helpers import Warehouse, event, write_source

import sql_queries as q
from sparkify import sample_data
from sparkify.engines.embedded import fresh_schema
from sparkify.engines.postgres import PostgresEngine
from sparkify.results import CheckFailed

EVENTS = 20_000


class RecordingConnection(psycopg2.extensions.connection):
    """A connection that keeps the text of every statement its cursors run, in ``statements``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.statements = []

    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", RecordingCursor)
        return super().cursor(*args, **kwargs)


class RecordingCursor(psycopg2.extensions.cursor):
    def execute(self, query, variables=None):
        self.connection.statements.append(" ".join(str(query).split()))
        return super().execute(query, variables)


def recording_warehouse(dsn, schema):
    warehouse = Warehouse(fresh_schema(dsn, schema))
    warehouse.connection.close()
    warehouse.connection = psycopg2.connect(warehouse.dsn, connection_factory=RecordingConnection)
    warehouse.create()
    return warehouse


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A month of the generator's events, with a catalogue a tenth their number, as the benchmark's."""
    folder = tmp_path_factory.mktemp("month")
    sample_data.generate(folder, songs=EVENTS // 10, events=EVENTS, days=30, seed=11)
    return folder


@pytest.fixture(scope="module")
def loaded(dsn, month):
    """A warehouse holding the month, loaded in full, with every statement of the load recorded."""
    warehouse = recording_warehouse(dsn, "test_full_load_cost")
    warehouse.connection.statements.clear()
    result = warehouse.load(month)
    yield warehouse, result, list(warehouse.connection.statements)
    warehouse.connection.close()


def sent(statement, warehouse):
    """Whether ``warehouse``'s connection ran ``statement``."""
    return " ".join(statement.split()) in warehouse.connection.statements


def last_star_insert(statements):
    """Where the full load's last INSERT into a star table is, in the order of ``statements``."""
    return max(index for index, statement in enumerate(statements)
               if re.match(rf"INSERT INTO ({'|'.join(q.star_tables)}) ", statement))


def held_rows(plan):
    """(node, rows) for each node of an EXPLAIN ANALYZE plan that holds its rows in memory at once: a Sort's
    rows, a hash table's, an aggregate's groups held in a hash. An Incremental Sort holds one group of rows
    at a time, and a Unique or a sorted aggregate one row: not counted."""
    held = []
    if plan["Node Type"] in ("Sort", "Hash") or plan.get("Strategy") == "Hashed":
        held.append((plan["Node Type"], plan["Actual Rows"] * plan.get("Actual Loops", 1)))
    for child in plan.get("Plans", []):
        held += held_rows(child)
    return held


def test_no_full_load_statement_holds_the_months_events_in_memory(loaded):
    """A statement that sorts or hashes every event costs more than linear time once that outgrows work_mem
    (at ten million events, the sorts that deduplicated the plays and ranked the users spilled to disk).
    Each statement may hold the catalogue, the users, or the plays that name a catalogue song."""
    warehouse, _, _ = loaded
    staged = warehouse.count("staging_events")
    engine = PostgresEngine()
    with warehouse.connection.cursor() as cursor:
        for statement in engine.clear_star() + engine.transform_settings():
            cursor.execute(statement)
        with engine.bulk_insert(cursor, q.star_tables, []):
            for table, statement in q.insert_table_queries.items():
                plan = explained(cursor, engine, statement)
                for node, rows in held_rows(plan["Plan"]):
                    assert rows <= staged // 4, f"{table}: a {node} holds {rows:,} rows of {staged:,} staged events"
    warehouse.connection.rollback()


def explained(cursor, engine, statement) -> dict:
    """The EXPLAIN ANALYZE of one full-load statement, run with the engine's planner settings for it."""
    with engine.planning(cursor, statement):
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + engine.render(statement))
        [[plan]] = cursor.fetchone()
    return plan if isinstance(plan, dict) else json.loads(plan)


def scans(plan, table) -> list[str]:
    """The node types that read ``table`` in a plan."""
    found = [plan["Node Type"]] if plan.get("Relation Name") == table else []
    for child in plan.get("Plans", []):
        found += scans(child, table)
    return found


def test_each_users_latest_events_are_found_by_the_sort_key_not_a_second_pass(loaded):
    """user_table's INSERT reads the events once, for each user's latest ts, then finds the events at those
    times through staging_events' sort-key index: a few thousand probes, not a second scan of the month."""
    warehouse, _, _ = loaded
    engine = PostgresEngine()
    with warehouse.connection.cursor() as cursor:
        for statement in engine.clear_star() + engine.transform_settings():
            cursor.execute(statement)
        plan = explained(cursor, engine, q.user_table_insert)
        cursor.execute("SHOW enable_nestloop")  # for this statement only
        assert cursor.fetchone() == ("off",)
    warehouse.connection.rollback()
    assert sorted(scans(plan["Plan"], "staging_events")) == ["Index Scan", "Seq Scan"]


def test_the_star_keys_are_built_after_their_rows_and_are_all_back(loaded):
    warehouse, result, statements = loaded
    last_insert = last_star_insert(statements)
    built = [statement for statement in statements[last_insert:]
             if re.search(r"ADD CONSTRAINT .* PRIMARY KEY", statement)]
    assert len(built) == len(q.star_tables)
    keys = warehouse.query(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
        "WHERE connamespace = current_schema()::regnamespace AND contype IN ('p', 'u', 'f') "
        "AND conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
        (q.star_tables,),
    )
    assert all(validated for *_, validated in keys)
    assert len(keys) == 5 + 1 + 5  # a primary key each, songplay_table's UNIQUE, five foreign keys
    assert {name for _, name, _, _ in keys} == {  # the names CREATE TABLE gave them
        "songplay_table_pkey", "songplay_table_session_id_item_in_session_start_time_key",
        "user_table_pkey", "song_table_pkey", "artist_table_pkey", "time_table_pkey",
        "songplay_table_start_time_fkey", "songplay_table_user_id_fkey", "songplay_table_song_id_fkey",
        "songplay_table_artist_id_fkey", "song_table_artist_id_fkey",
    }
    assert any((step.action, step.rows) == ("key indexes built", 6) for step in result.steps)


def test_the_checks_take_the_star_counts_from_what_the_load_wrote(loaded):
    warehouse, result, statements = loaded
    last_insert = last_star_insert(statements)
    for table in q.star_tables:
        recounts = [statement for statement in statements[last_insert:]
                    if re.search(rf"COUNT\(\*\) FROM {table}(\)|$)", statement)]  # the whole table's rows
        assert not recounts
    written = {step.table: step.rows for step in result.steps if step.table}
    checks = {check.name: check for check in result.checks}
    assert checks["songplays = distinct NextSong events"].actual == written["songplay_table"] > 0
    assert checks["time rows = distinct play start times"].actual == written["time_table"] > 0
    assert written["songplay_table"] == warehouse.count("songplay_table")


def test_a_check_against_the_rows_written_still_fails_on_a_wrong_count(warehouse, tmp_path, monkeypatch):
    """A user_table statement that writes one row too few fails users = distinct staged user ids."""
    source = write_source(tmp_path, events=[event(), event(userId="9", itemInSession=2, ts=1541106132796)])
    monkeypatch.setitem(q.insert_table_queries, "user_table",
                        q.insert_table_queries["user_table"] + "\nORDER BY user_id\nLIMIT 1")
    monkeypatch.setitem(q.insert_table_queries, "songplay_table", "DELETE FROM songplay_table")  # no FK trouble
    with pytest.raises(CheckFailed) as failure:
        warehouse.load(source)
    failed = {check.name: (check.expected, check.actual) for check in failure.value.result.failed_checks}
    assert failed["users = distinct staged user ids"] == (2, 1)


def test_a_key_that_a_view_depends_on_stays_through_the_load(dsn, tmp_path):
    warehouse = recording_warehouse(dsn, "test_full_load_cost_view")
    with warehouse.connection.cursor() as cursor:  # GROUP BY the primary key: the view depends on the key
        cursor.execute("CREATE VIEW user_levels AS SELECT user_id, level FROM user_table GROUP BY user_id")
    warehouse.connection.commit()
    result = warehouse.load(write_source(tmp_path, events=[event()]))
    assert result.committed and warehouse.query("SELECT user_id, level FROM user_levels") == [(8, "free")]
    assert any((step.action, step.rows) == ("key indexes built", 5) for step in result.steps)  # user_table's stayed
    warehouse.connection.close()


@pytest.mark.parametrize("server_setting, expected", [(None, "64MB"), ("2GB", "2GB")])
def test_the_transform_memory_follows_what_was_staged(warehouse, tmp_path, server_setting, expected):
    """A quarter of staging_events' size, from 64 MB to 1 GB, never below the server's own setting."""
    warehouse.load(write_source(tmp_path, events=[event()]))
    engine = PostgresEngine()
    with warehouse.connection.cursor() as cursor:
        if server_setting:
            cursor.execute(f"SET work_mem = '{server_setting}'")
            cursor.execute(f"SET maintenance_work_mem = '{server_setting}'")
        for statement in engine.transform_settings():
            cursor.execute(statement)
        cursor.execute("SELECT current_setting('work_mem'), current_setting('maintenance_work_mem')")
        assert cursor.fetchone() == (expected, expected)
    warehouse.connection.rollback()


def test_the_fact_ranks_copies_only_when_an_event_was_staged_twice(dsn, tmp_path):
    """With every event staged once, the fact's INSERT reads them in any order, without ranking; a file
    delivered twice brings the ranking back. Both give the play the data contract's tie-break chooses."""
    warehouse = recording_warehouse(dsn, "test_full_load_cost_copies")
    day = [event(), event(itemInSession=2, ts=1541106132796, song="Nothing Matches")]
    once = write_source(tmp_path / "once", events=day)
    warehouse.load(once)
    assert sent(q.songplay_table_insert_no_copies, warehouse) and not sent(q.songplay_table_insert, warehouse)
    warehouse.connection.statements.clear()
    lines = lambda events: "".join(json.dumps(item) + "\n" for item in events)  # noqa: E731
    twice = write_source(tmp_path / "twice", log_files={
        "2018-11-01-events.json": lines(day),
        "2018-11-01-events-resent.json": lines([event(level="paid"), day[1]]),  # a copy differs: the tie-break
    })
    result = warehouse.load(twice)
    assert sent(q.songplay_table_insert, warehouse)
    assert result.figures.duplicate_events == 2
    assert warehouse.query("SELECT level FROM songplay_table ORDER BY item_in_session") == [("free",), ("free",)]
    warehouse.connection.close()


def test_the_fact_unique_key_answers_whether_an_event_was_staged_twice(dsn, tmp_path):
    """On PostgreSQL the distinct staged events are not counted before the fact's INSERT: songplay_table's
    unique key, built at once over the plays, says that none was staged twice. An event with a NULL in its
    identity, which the key does not compare, has its copies counted first, and ranked."""
    from sparkify.checks.reconciliation_sql import COUNTED, PLAYS_CHECK

    count_distinct = COUNTED[PLAYS_CHECK][0]
    warehouse = recording_warehouse(dsn, "test_full_load_cost_key")
    once = write_source(tmp_path / "once", events=[event(), event(itemInSession=2, ts=1541106132796)])
    result = warehouse.load(once)
    assert not sent(count_distinct, warehouse) and sent(q.songplay_table_insert_no_copies, warehouse)
    assert (result.figures.plays, result.figures.duplicate_events) == (2, 0)
    assert all(check.passed for check in result.checks)
    warehouse.connection.statements.clear()
    lines = lambda events: "".join(json.dumps(item) + "\n" for item in events)  # noqa: E731
    keyless = event(sessionId=None)
    twice = write_source(tmp_path / "twice", log_files={
        "2018-11-01-events.json": lines([keyless, event(itemInSession=2)]),
        "2018-11-01-events-resent.json": lines([keyless]),
    })
    result = warehouse.load(twice)
    assert sent(count_distinct, warehouse) and sent(q.songplay_table_insert, warehouse)
    assert (result.figures.plays, result.figures.duplicate_events) == (2, 1)
    assert warehouse.query("SELECT COUNT(*) FROM songplay_table WHERE session_id IS NULL") == [(1,)]
    warehouse.connection.close()


def test_a_full_reload_that_fails_gives_back_the_ledger_it_emptied(warehouse, tmp_path, monkeypatch):
    """On PostgreSQL a full reload empties the ledger with TRUNCATE and refills it with one COPY, inside its
    transaction: a reload that fails after that (here, on a check) leaves the ledger, and every other table,
    row for row as the last committed run left them."""
    source = write_source(tmp_path / "source", events=[event(), event(userId="9", itemInSession=2, ts=1541106132796)])
    warehouse.load(source)
    before, ledger = warehouse.snapshot(), warehouse.table("loaded_files")
    assert len(ledger) == 1
    day_two = source / "log_data" / "2018" / "11" / "2018-11-02-events.json"
    day_two.write_text(json.dumps(event(userId="7", ts=1541190000000)) + "\n")  # the reload records two files
    monkeypatch.setitem(q.insert_table_queries, "user_table",
                        q.insert_table_queries["user_table"] + "\nORDER BY user_id\nLIMIT 1")
    monkeypatch.setitem(q.insert_table_queries, "songplay_table", "DELETE FROM songplay_table")  # no FK trouble
    with pytest.raises(CheckFailed):
        warehouse.load(source)
    assert warehouse.table("loaded_files") == ledger and warehouse.snapshot() == before
