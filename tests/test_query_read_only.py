"""query.py changes nothing unless --write says so: the SQL argument, its several statements, the psql session and
the DSN of --serve are read-only, held so by the server (not by reading the SQL for dangerous words)."""

import io
import subprocess
import sys

import psycopg2
import pytest
from helpers import PROJECT_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkify.engines.postgres import PostgresEngine
from sparkify.output import query


def run_query(*args, environment, stdin=None):
    return subprocess.run([sys.executable, "query.py", *args], cwd=PROJECT_DIR, env=environment, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def guarded(warehouse):
    """A table of three rows that no read-only run may change."""
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS guarded; CREATE TABLE guarded (id int, name text)")
        cursor.execute("INSERT INTO guarded VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    warehouse.connection.commit()
    return warehouse


def contents(warehouse):
    """Every table of the schema and its rows: what a write would change."""
    tables = [name for (name,) in warehouse.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
    return tables, warehouse.query("SELECT * FROM guarded ORDER BY id")


WRITES = [
    "DELETE FROM guarded WHERE id = 1",
    "UPDATE guarded SET name = 'x'",
    "INSERT INTO guarded VALUES (4, 'd')",
    "TRUNCATE guarded",
    "DROP TABLE guarded",
    "CREATE TABLE written (x int)",
    "SELECT 1; COMMIT; DELETE FROM guarded",
    "COMMIT; DELETE FROM guarded",
    "END; BEGIN; DELETE FROM guarded",
    "BEGIN READ WRITE; DELETE FROM guarded",
    "SET TRANSACTION READ WRITE; DELETE FROM guarded",
    "SET default_transaction_read_only = off; COMMIT; DELETE FROM guarded",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; ROLLBACK; DELETE FROM guarded",
    "COMMIT AND CHAIN; SET transaction_read_only = off; DELETE FROM guarded",
    "DO $$ BEGIN DELETE FROM guarded; END $$",
    "WITH gone AS (DELETE FROM guarded RETURNING *) SELECT COUNT(*) FROM gone",
    "SELECT * INTO written FROM guarded",
    "select 'a;b' AS x; delete from guarded",
    "SELECT $q$;COMMIT;$q$; DELETE FROM guarded",
]


@pytest.mark.parametrize("sql", WRITES)
def test_a_write_without_write_is_refused_and_changes_nothing(guarded, environment, sql):
    before = contents(guarded)
    result = run_query("--dsn", guarded.dsn, sql, environment=environment)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: "), result.stderr
    assert contents(guarded) == before


def test_the_issues_delete_is_refused_and_says_how_to_write(guarded, environment):
    result = run_query("--dsn", guarded.dsn, "DELETE FROM guarded WHERE id = 1", environment=environment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == [
        "error: cannot execute DELETE in a read-only transaction: query.py runs read-only; add --write to let the "
        "SQL change the warehouse"]


def test_write_lets_the_sql_change_the_warehouse_and_shows_every_result(guarded, environment):
    result = run_query("--write", "--dsn", guarded.dsn,
                       "INSERT INTO guarded VALUES (9, 'z'); SELECT name FROM guarded WHERE id = 9; "
                       "DELETE FROM guarded WHERE id = 9", environment=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "INSERT 0 1\nname\n----\nz\n1 row\n\nDELETE 1\n"
    assert "read-write (--write)" in result.stderr.splitlines()[0]


def test_several_statements_show_every_result_in_order(guarded, environment):
    result = run_query("--dsn", guarded.dsn, "SELECT 1 AS one; SET work_mem = '8MB'; SELECT 'two' AS two",
                       environment=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "one\n---\n  1\n1 row\n\nSET\ntwo\n---\ntwo\n1 row\n"


def test_a_failed_write_with_write_commits_nothing(guarded, environment):
    before = contents(guarded)
    result = run_query("--write", "--dsn", guarded.dsn, "DELETE FROM guarded; SELECT 1/0", environment=environment)
    assert result.returncode == 1
    assert contents(guarded) == before


# The kind, not the cases: any sequence of reads, writes and transaction control, without --write, changes nothing.
PIECES = [
    "SELECT COUNT(*) FROM guarded", "DELETE FROM guarded", "UPDATE guarded SET id = id + 1",
    "INSERT INTO guarded VALUES (7, 'g')", "COMMIT", "ROLLBACK", "BEGIN", "END", "COMMIT AND CHAIN",
    "ROLLBACK AND CHAIN", "SET transaction_read_only = off", "SET TRANSACTION READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SET default_transaction_read_only = off",
    "START TRANSACTION READ WRITE", "SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "RESET ALL",
    "DO $$ BEGIN UPDATE guarded SET name = 'do'; END $$", "CREATE TEMP TABLE t AS SELECT 1",
    "PREPARE TRANSACTION 'p'", "DISCARD ALL", "DROP TABLE guarded",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
def test_no_sequence_of_statements_changes_anything_without_write(guarded, pieces):
    from sparkify.engines.user_sql import QueryError

    before = contents(guarded)
    connection = psycopg2.connect(guarded.dsn)
    try:
        query.run(connection, PostgresEngine(), "; ".join(pieces), io.StringIO(), io.StringIO())
    except QueryError:
        pass
    finally:
        connection.close()
    assert contents(guarded) == before


def test_psql_and_the_served_dsn_of_the_embedded_server_are_read_only(environment, tmp_path):
    pgdata = tmp_path / "pgdata"
    made = run_query("--write", "--pgdata", str(pgdata), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)",
                     environment=environment)
    assert made.returncode == 0, made.stderr
    psql = run_query("--pgdata", str(pgdata), environment=environment,
                     stdin="DELETE FROM kept;\nCREATE TABLE written (x int);\nSELECT COUNT(*) AS left FROM kept;\n")
    assert "cannot execute DELETE in a read-only transaction" in psql.stderr, psql.stderr
    assert "cannot execute CREATE TABLE in a read-only transaction" in psql.stderr
    assert " left \n------\n    1\n" in psql.stdout
    written = run_query("--write", "--pgdata", str(pgdata), environment=environment, stdin="DELETE FROM kept;\n")
    assert written.stdout == "DELETE 1\n", written.stderr
