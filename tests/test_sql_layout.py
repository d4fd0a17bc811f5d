"""Where the SQL lives, and one definition of each table's columns.

sql_queries.py holds what the user prescribed: the DROP, CREATE, COPY and
full-load INSERT (and DELETE) statements. The rest of the SQL lives beside the
code that runs it (docs/design.md#where-the-sql-lives). Each table's columns
are defined once, by its CREATE TABLE: every other list of them, in the
package, the scripts, the tests and the benchmarks, is read from
``sql_queries.COLUMNS``.
"""

import ast
import dataclasses
import re
from pathlib import Path

import pytest

import sql_queries as q
from sparkify.engines.redshift_load_errors import insert_rejected
from sparkify.results import RejectedRecord
from sparkify.run import daily_load_sql as daily_sql
from sparkify.run.ledger import Choice, ledger_statements
from sparkify.sources import SourceFile

PROJECT = Path(__file__).resolve().parents[1]
PRESCRIBED = ("DROP TABLE ", "CREATE TABLE ", "COPY ", "INSERT INTO ", "DELETE FROM ")
SQL_VERB = re.compile(r"\s*(SELECT|INSERT|DELETE|UPDATE|MERGE|CREATE|DROP|COPY|ANALYZE|VACUUM|LOCK|SET)\b")

# Where a table's columns are listed for a reason of their own: (file name, the name assigned).
NOT_COLUMN_LISTS = [
    ("sql_queries.py", re.compile(r"\w+_table_create")),  # the one definition: each CREATE TABLE
    ("sql_queries.py", re.compile(r"[A-Z_]+_TABLE_ROWS")),  # each star table's SELECT: where its columns come from
    # the keys of a generated song file, in the order the real files have them: a fact of the
    # source files (COPY's 'auto' matches keys by name, in any order), not of staging_songs
    ("sample_data.py", re.compile("SONG_KEYS")),
]


# ---------------------------------------------------------------------------
# What sql_queries.py holds
# ---------------------------------------------------------------------------


def statements_of(module):
    """(name, text) of every SQL statement a module defines at its top level, in lists and dicts too.
    UPPER_CASE names are fragments (ARTIST_TABLE_ROWS, START_TIME, ...), not statements."""
    found = []

    def walk(name, value):
        if isinstance(value, str):
            if SQL_VERB.match(value):
                found.append((name, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{name}[{key!r}]", item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{name}[{index}]", item)

    for name, value in vars(module).items():
        if not name.startswith("_") and not name.isupper():
            walk(name, value)
    return found


def test_sql_queries_holds_only_the_prescribed_statements():
    """DROP, CREATE TABLE, COPY, and the full load's INSERTs and DELETEs: no SELECT, MERGE or temporary table."""
    assert statements_of(q), "sql_queries.py defines no statement"
    others = [name for name, text in statements_of(q) if not text.lstrip().startswith(PRESCRIBED)]
    assert others == []


# ---------------------------------------------------------------------------
# One definition of each table's columns
# ---------------------------------------------------------------------------


def test_columns_are_every_table_s_columns_in_the_order_of_its_create_table(warehouse):
    """What is read from each CREATE TABLE is what the database made of it."""
    assert set(q.COLUMNS) == set(q.all_tables)
    for table, columns in q.COLUMNS.items():
        made = warehouse.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        assert tuple(name for (name,) in made) == columns, table


def test_a_load_writes_every_column_but_the_identity():
    assert q.COLUMNS["songplay_table"][0] == "songplay_id"
    assert q.INSERT_COLUMNS["songplay_table"] == q.COLUMNS["songplay_table"][1:]
    assert all(q.INSERT_COLUMNS[table] == q.COLUMNS[table] for table in q.all_tables if table != "songplay_table")


@pytest.mark.parametrize("create, read", [
    ("\nCREATE TABLE t (\n    a  INTEGER NOT NULL,\n    b  DECIMAL(38, 9),\n    PRIMARY KEY (a),\n"
     "    UNIQUE (a, b)\n)\nDISTSTYLE ALL\n",
     ("t", [("a", "INTEGER NOT NULL,"), ("b", "DECIMAL(38, 9),")])),
    ("\nCREATE TABLE t (\n    unique_plays  BIGINT ENCODE az64,\n    key_id  BIGINT IDENTITY(0, 1)\n)\n",
     ("t", [("unique_plays", "BIGINT ENCODE az64,"), ("key_id", "BIGINT IDENTITY(0, 1)")])),
])
def test_the_column_reader_takes_each_column_s_line_and_skips_the_keys(create, read):
    assert q.column_definitions(create) == read


@pytest.mark.parametrize("line", ["    -- a comment", "    lonely", "    a INTEGER, b INTEGER"])
def test_the_column_reader_refuses_a_line_it_cannot_read(line):
    """One column to a line, its name first: anything else is said, not guessed."""
    with pytest.raises(ValueError, match="is not a column's line"):
        q.column_definitions(f"\nCREATE TABLE t (\n{line}\n)\n")


def inserted_columns(statement):
    """(table, the columns named) of each INSERT INTO t (...), and MERGE ... INSERT (...), of a statement."""
    found = re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", statement)
    merge = re.match(r"\s*MERGE INTO (\w+)", statement)
    if merge:
        found += [(merge.group(1), columns) for columns in re.findall(r"THEN INSERT \(([^)]*)\)", statement)]
    return [(table.removesuffix("_changes"), tuple(re.split(r"\s*,\s*", columns.strip())))
            for table, columns in found]


def every_insert():
    files = {"log_data": [SourceFile("log_data/a.json", 1, None, "v")]}
    ledger = ledger_statements(Choice(source="/data", full=False, reason="", files=files), [])
    rejected = insert_rejected([RejectedRecord("staging_events", "log_data/a.json", 1, "ts", "why", "x", "{}")])
    statements = [*q.insert_table_queries.values(), *(text for _, text in daily_sql.incremental_star_queries),
                  *(text for text, _ in ledger), rejected[0]]
    return [insert for statement in statements for insert in inserted_columns(statement)]


def test_every_insert_names_its_table_s_columns_in_their_order():
    """The full load, the daily run (its *_changes tables and MERGEs), the ledger and the rejected records."""
    inserts = every_insert()
    assert {table for table, _ in inserts} == set(q.star_tables) | {"loaded_files", "rejected_records"}
    for table, columns in inserts:
        assert columns == q.INSERT_COLUMNS[table], table


def test_a_rejected_record_s_fields_are_rejected_records_columns_in_order():
    """insert_rejected() and the local loader write a record's fields in this order under the columns' names."""
    assert tuple(field.name for field in dataclasses.fields(RejectedRecord)) == q.COLUMNS["rejected_records"]


# ---------------------------------------------------------------------------
# No column list typed by hand
# ---------------------------------------------------------------------------


def column_runs(text):
    """Every run of two or more comma-separated names in ``text``, each a list of lower-case names."""
    return [[name.lower() for name in re.split(r"\s*,\s*", run)]
            for run in re.findall(r"\b[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*\b)+", text)]


def hand_typed(names):
    """The table whose columns ``names`` lists in full (every column a load writes, in any order); else None."""
    for table, columns in q.INSERT_COLUMNS.items():
        if set(columns) <= set(names):
            return table
    return None


class ColumnLists(ast.NodeVisitor):
    """The hand-typed column lists of one module: in its strings (not docstrings, not a text a result
    is compared with) and in its tuples and lists of names."""

    def __init__(self, path):
        self.path, self.found, self.assigned = path, [], None

    def visit_Compare(self, node):
        for operand in [node.left, *node.comparators]:
            if not (isinstance(operand, ast.Constant) and isinstance(operand.value, str)):
                self.visit(operand)  # a text compared with is expected output, shown whole: it lists nothing

    def visit_Expr(self, node):
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):  # a docstring
            self.generic_visit(node)

    def visit_Assign(self, node):
        targets = [target.id for target in node.targets if isinstance(target, ast.Name)]
        self.assigned = targets[0] if targets else None
        self.generic_visit(node)
        self.assigned = None

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.check(node, column_runs(node.value))

    def visit_Tuple(self, node):
        names = [element.value for element in node.elts
                 if isinstance(element, ast.Constant) and isinstance(element.value, str)]
        if len(names) == len(node.elts):
            self.check(node, [[name.lower() for name in names]])
        self.generic_visit(node)

    visit_List = visit_Tuple

    def check(self, node, runs):
        if any(self.path.name == file and pattern.fullmatch(self.assigned or "") for file, pattern in NOT_COLUMN_LISTS):
            return
        for names in runs:
            table = hand_typed(names)
            if table:
                self.found.append(f"{self.path.relative_to(PROJECT)}:{node.lineno}: {table}: {', '.join(names)}")


def python_files():
    """The project's own Python files: the scripts, sparkify/, tests/, bench/, docs/."""
    for path in sorted(PROJECT.rglob("*.py")):
        parts = path.relative_to(PROJECT).parts
        if any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue
        if path == Path(__file__).resolve():
            continue  # the examples below
        yield path


def test_no_column_list_is_typed_by_hand():
    """A table's columns listed anywhere but in its CREATE TABLE come from sql_queries.COLUMNS (or INSERT_COLUMNS)."""
    found = []
    for path in python_files():
        lists = ColumnLists(path)
        lists.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found += lists.found
    assert found == []


EXAMPLES = [
    pytest.param(
        'rows = query("SELECT start_time, user_id, level, song_id, artist_id, session_id, item_in_session, '
        'location, user_agent FROM songplay_table")', "songplay_table", id="in a query"),
    pytest.param(
        'COLUMNS = ("num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location", '
        '"artist_name", "song_id", "title", "duration", "year")', "staging_songs", id="in a tuple"),
    pytest.param(
        'sql = ("INSERT INTO loaded_files (file_key, source, table_name, size, version, "\n'
        '       "rows_staged, rows_rejected, loaded_at)")', "loaded_files", id="over two strings"),
    pytest.param(
        'query("SELECT user_id, level, gender, last_name, first_name FROM user_table")', "user_table",
        id="in another order"),
    pytest.param("'''SELECT user_id, first_name, last_name, gender, level FROM user_table'''", None,
                 id="a docstring"),
    pytest.param('assert text == "INSERT (user_id, first_name, last_name, gender, level)"', None,
                 id="an expected text"),
    pytest.param('assert query("SELECT user_id, first_name, last_name, gender, level FROM user_table") == []',
                 "user_table", id="in a query inside an assert"),
    pytest.param('"SELECT table_name, source_file, line_number, column_name, reason FROM rejected_records"', None,
                 id="some of the columns"),
    pytest.param(
        'KEYS = ("artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", '
        '"location", "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", '
        '"userId")', None, id="a log event's keys"),
    pytest.param(
        'SONG_KEYS = ("num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location", '
        '"artist_name", "song_id", "title", "duration", "year")', None, id="a song file's keys, allowed by name"),
]


@pytest.mark.parametrize("source, table", EXAMPLES)
def test_the_scan_finds_a_table_s_columns_listed_in_full(source, table):
    lists = ColumnLists(PROJECT / "sample_data.py")  # where NOT_COLUMN_LISTS allows SONG_KEYS
    lists.visit(ast.parse(source))
    assert [line.split(": ")[1] for line in lists.found] == ([table] if table else [])
