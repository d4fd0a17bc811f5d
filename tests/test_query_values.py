"""query.py prints SQL values as psql does (the server's own text), CSV that any CSV reader reads back value for
value, control characters escaped in a table, and SQL it cannot send as one line."""

import csv
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


def run_query(*args, environment):
    return subprocess.run([sys.executable, "query.py", *args], cwd=PROJECT_DIR, env=environment,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("expression, text", [
    ("'\\x0001ff'::bytea", "\\x0001ff"),
    ("'{\"a\": 1, \"b\": [true, null]}'::jsonb", '{"a": 1, "b": [true, null]}'),
    ("ARRAY[1, 2]", "{1,2}"),
    ("ARRAY['a b', NULL]", '{"a b",NULL}'),
    ("interval '1 day 2 hours'", "1 day 02:00:00"),
    ("2018", "2018"),
    ("1234567::bigint", "1234567"),
    ("12345.678::numeric", "12345.678"),
    ("true", "t"),
    ("'2018-11-01 21:01:46.796'::timestamp", "2018-11-01 21:01:46.796"),
    ("'2018-11-01'::date", "2018-11-01"),
    ("0.1::float8 + 0.2", "0.30000000000000004"),
    ("'(1,2)'::point", "(1,2)"),
    ("''", ""),
    ("NULL", "(null)"),
    ("E'tab\\there'", "tab\\there"),
    ("E'esc\\x1b[31m'", "esc\\x1b[31m"),
    ("E'two\\nlines'", "two\\nlines"),
    ("E'carriage\\rreturn'", "carriage\\rreturn"),
])
def test_a_value_prints_as_the_server_writes_it(warehouse, environment, expression, text):
    result = run_query("--dsn", warehouse.dsn, f"SELECT {expression} AS v", environment=environment)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 4, lines
    assert lines[2].strip() == text


def test_null_and_an_empty_string_differ_in_a_table_and_in_csv(warehouse, environment):
    table = run_query("--dsn", warehouse.dsn, "SELECT NULL AS a, '' AS b", environment=environment)
    assert table.stdout.decode().splitlines()[2] == "(null)"
    spreadsheet = run_query("--csv", "--dsn", warehouse.dsn, "SELECT NULL AS a, '' AS b", environment=environment)
    assert spreadsheet.stdout == b'a,b\n,""\n'


def test_control_characters_in_a_column_name_never_reach_the_terminal(warehouse, environment):
    result = run_query("--dsn", warehouse.dsn, 'SELECT 1 AS "a\x1b[2Jb\rc"', environment=environment)
    assert b"\x1b" not in result.stdout and b"\r" not in result.stdout
    assert result.stdout.decode().splitlines()[0] == "a\\x1b[2Jb\\rc"


@pytest.mark.parametrize("sql, said", [
    (b"SELECT '\xff'", "error: argument sql: the SQL is not valid UTF-8 (byte 0xff at character 9)"),
    (b"  ;  -- nothing\n", "error: the SQL is empty: it holds no statement"),
])
def test_sql_a_server_cannot_take_is_one_line_and_exit_2(environment, sql, said):
    result = subprocess.run([sys.executable, "query.py", sql], cwd=PROJECT_DIR, env=environment,
                            capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert result.stderr.decode().splitlines()[-1].endswith(said.removeprefix("error: argument sql: ")
                                                            .removeprefix("error: "))


# Any text (but NUL, which SQL text cannot hold) in any number of columns, NULL included: the CSV query.py writes
# itself (for a terminal, Redshift, a statement COPY cannot wrap) is the server's CSV byte for byte, and a CSV
# reader reads every value back.
VALUE = st.one_of(st.none(), st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                                     max_size=6),
                  st.sampled_from(["", "\\.", "\r", "\n", '"', ",", " ", "\r\n", "NULL"]))


class Binary(io.StringIO):
    """A text stream with no ``buffer``: query.py writes its CSV itself."""

    def isatty(self):
        return False


def literal(value):
    return "NULL::text" if value is None else "'" + value.replace("'", "''") + "'::text"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 3).flatmap(lambda width: st.lists(st.lists(VALUE, min_size=width, max_size=width),
                                                            min_size=1, max_size=4)))
def test_csv_is_postgresqls_and_reads_back_value_for_value(warehouse, rows):
    names = ", ".join(f"c{i}" for i in range(len(rows[0])))
    sql = f"SELECT * FROM (VALUES {', '.join('(' + ', '.join(map(literal, row)) + ')' for row in rows)}) v({names})"
    connection = psycopg2.connect(warehouse.dsn)
    try:
        ours = Binary()
        query.run(connection, PostgresEngine(), sql, query_output(ours), io.StringIO(), csv=True)
        with connection.cursor() as cursor:
            server = io.StringIO()
            cursor.copy_expert(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)", server)
    finally:
        connection.close()
    assert ours.getvalue() == server.getvalue()
    read = list(csv.reader(io.StringIO(ours.getvalue(), newline="")))
    # a lone NULL is an empty line, which a reader gives as no field: PostgreSQL writes it so too
    assert [row or [""] for row in read[1:]] == [["" if value is None else value for value in row] for row in rows]


def query_output(stream):
    from sparkify.output.streams import Output
    return Output(stream)
