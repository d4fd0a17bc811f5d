"""create_tables.py's work: drop and create the project's tables, never dropping rows nobody named.

Tables that do not exist are created, and tables that hold no row are
dropped and created again. Tables that hold rows are dropped only when the
caller says so (``drop_data``: create_tables.py --drop-data), or when they
hold exactly the rows a person said yes to dropping (``agreed``); otherwise
``Refused``, and nothing changes. Everything runs after the engine's lock, the
one every etl.py run takes, and the rows are counted again under it: a load
that committed while this waited is never dropped unasked
(docs/daily-loads.md#what-each-command-may-remove).
"""

import contextlib

import sql_queries as q
from sparkify.output.report import Reporter
from sparkify.results import Refused
from sparkify.run import pipeline
from sparkify.run.ledger import ledger_sources

EXISTING_TABLES = """
SELECT table_name
FROM information_schema.tables
WHERE table_schema = current_schema() AND table_name IN ({names})
"""


def existing_tables(cursor) -> list[str]:
    """The project's tables that exist, in sql_queries.all_tables' order."""
    cursor.execute(EXISTING_TABLES.format(names=", ".join(["%s"] * len(q.all_tables))), list(q.all_tables))
    existing = {name for (name,) in cursor.fetchall()}
    return [table for table in q.all_tables if table in existing]


def table_rows(cursor) -> dict[str, int]:
    """table -> its rows, for each of the project's tables that exists."""
    rows = {}
    for table in existing_tables(cursor):
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        rows[table] = (cursor.fetchone() or (0,))[0] or 0
    return rows


@contextlib.contextmanager
def in_transactions(connection):
    """A caller's connection in autocommit mode (a library user's) runs this work in transactions all the
    same, so that the lock holds until the tables are created, and gets its mode back."""
    autocommit = getattr(connection, "autocommit", False)
    if autocommit:
        connection.autocommit = False
    try:
        yield
    finally:
        if autocommit:
            connection.autocommit = True


def read_alone(connection, engine, read):
    """``read(cursor)`` in a transaction of its own, rolled back: nothing stays locked while a person answers.
    Ctrl-C cancels a wait for a lock at once, as in a run."""
    with in_transactions(connection):
        try:
            with engine.cursor_on(connection) as cursor, engine.cancelling(connection):
                return read(cursor)
        finally:
            engine.rollback(connection)


def rows_held(connection, engine, reporter=None) -> dict[str, int]:
    """table_rows(), after the engine's lock: a running load is waited for, saying so, and its rows counted
    once it has committed."""
    reporter = reporter or Reporter(quiet=True)

    def count(cursor):
        engine.lock_for_ddl(cursor, reporter, existing_tables(cursor))
        return table_rows(cursor)

    return read_alone(connection, engine, count)


def drop_and_create(cursor, engine) -> None:
    """Every table of sql_queries.py dropped, then created as ``engine`` creates it."""
    for statement in q.drop_table_queries:
        cursor.execute(statement)
    for statement in q.create_table_queries:
        for part in engine.table_statements(statement):
            cursor.execute(part)


def create_tables(connection, engine, drop_data=False, agreed=None, reporter=None) -> dict[str, int]:
    """Drop and create the project's tables, once no etl.py run is loading; return the rows dropped, by table.

    Tables that hold rows are dropped only with ``drop_data``, or when they
    hold exactly the rows in ``agreed`` (table -> rows: what the caller saw
    before, and a person said yes to dropping when there were any);
    otherwise Refused, and nothing changes.
    """
    reporter = reporter or Reporter(quiet=True)
    existing = read_alone(connection, engine, existing_tables)
    with in_transactions(connection):
        with pipeline.transaction(connection, engine, reporter=None) as cursor:
            engine.lock_for_ddl(cursor, reporter, existing)
            rows = table_rows(cursor)
            if any(rows.values()) and not drop_data and rows != agreed:
                raise Refused(refusal(rows, agreed))
            drop_and_create(cursor, engine)
        engine.commit(connection)
    return rows


def sources_of(connection, engine, rows) -> list[str]:
    """The sources the ledger records, for the question; none when there is no ledger or it is empty."""
    if not rows.get("loaded_files"):
        return []

    def read(cursor):
        cursor.execute(ledger_sources)
        return sorted(source for (source,) in cursor.fetchall())

    return read_alone(connection, engine, read)


def held(rows: dict[str, int]) -> str:
    """What the tables hold, for a person: the plays, and the rows in all."""
    filled = [table for table, count in rows.items() if count]
    total = sum(rows.values())
    plays = f"{rows.get('songplay_table', 0):,} plays and " if rows.get("songplay_table") else ""
    return f"{plays}{total:,} rows in all, in {len(filled)} table{'s' if len(filled) > 1 else ''}"


def refusal(rows: dict[str, int], seen=None) -> str:
    why = "changed while create_tables.py waited for the lock" if seen is not None else "hold rows"
    return (f"refused: the tables {why} ({held(rows)}): create_tables.py drops them only with --drop-data, or "
            "after a \"y\" to its question on a terminal; nothing was changed")
