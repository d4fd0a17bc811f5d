"""Create the staging tables and the star schema; drop and create them again only when they hold nothing,
or when told to.

    python create_tables.py                 # the embedded PostgreSQL
    python create_tables.py --drop-data     # also when the tables hold rows: every loaded row is lost
    python create_tables.py --dry-run --engine redshift

The statements come from sql_queries.py in Redshift's dialect, rendered for
the target's engine (sparkify/engines/). They run in one transaction, after
the engine's lock (the one every etl.py run takes): if one fails, the tables
are as they were, and a load in progress is never dropped halfway.

Tables that hold rows are dropped only with --drop-data, or after a "y" to
the question asked on a terminal; without a terminal the command is refused
(exit status 2) and nothing changes (docs/daily-loads.md#what-each-command-may-remove).
"""

import argparse
import contextlib
import sys

import psycopg2

import sql_queries as q
from sparkify.cli import add_target_arguments
from sparkify.config import TargetError, load_settings
from sparkify.engines import detect_engine, engine_named
from sparkify.engines.connect import choose_target, connect
from sparkify.output.printable import printable
from sparkify.output.report import Reporter
from sparkify.results import Refused
from sparkify.sqltext import as_script

EXISTING_TABLES = """
SELECT table_name
FROM information_schema.tables
WHERE table_schema = current_schema() AND table_name IN ({names})
"""

WHAT_IT_REMOVES = (
    "Tables that do not exist are created, and tables that exist but hold no row are dropped and created "
    "again. Tables that hold rows are dropped only with --drop-data, or after a \"y\" to the question asked "
    "on a terminal; without a terminal the command is refused (exit status 2) and nothing changes. It "
    "waits for a running etl.py load to finish first."
)


def statements(engine) -> list[str]:
    """Every statement create_tables.py runs, in order, for ``engine`` (an Engine or its name)."""
    engine = engine_named(engine) if isinstance(engine, str) else engine
    result = [engine.render(statement) for statement in q.drop_table_queries]
    for statement in q.create_table_queries:
        result += engine.table_statements(statement)
    return result


def existing_tables(cursor) -> list[str]:
    """The project's tables that exist, in sql_queries.all_tables' order."""
    cursor.execute(EXISTING_TABLES.format(names=", ".join(f"'{table}'" for table in q.all_tables)))
    existing = {name for (name,) in cursor.fetchall()}
    return [table for table in q.all_tables if table in existing]


def table_rows(cursor) -> dict[str, int]:
    """table -> its rows, for each of the project's tables that exists."""
    rows = {}
    for table in existing_tables(cursor):
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        rows[table] = (cursor.fetchone() or (0,))[0] or 0
    return rows


def rows_held(connection, engine=None, reporter=None) -> dict[str, int]:
    """table_rows(), in a transaction of its own, rolled back: nothing stays locked while a person answers.

    With ``engine``, after its lock: a running load is waited for, saying so, and its rows counted once it
    has committed.
    """
    try:
        with connection.cursor() as cursor:
            if engine is not None:
                engine.lock_for_ddl(cursor, reporter or Reporter(quiet=True), existing_tables(cursor))
            return table_rows(cursor)
    finally:
        connection.rollback()


def create_tables(connection, engine, drop_data=False, agreed=None, reporter=None) -> dict[str, int]:
    """Drop and create the project's tables, once no etl.py run is loading; return the rows dropped, by table.

    Tables that hold rows are dropped only with ``drop_data``, or when they
    hold exactly the rows in ``agreed`` (table -> rows: what the caller saw
    before, and a person said yes to dropping when there were any);
    otherwise Refused, and nothing changes. The rows are counted again under
    the engine's lock: a load that committed while this waited is not dropped
    unasked.
    """
    engine = engine_named(engine) if isinstance(engine, str) else engine
    reporter = reporter or Reporter(quiet=True)
    try:
        with connection.cursor() as cursor:
            existing = existing_tables(cursor)
    finally:
        connection.rollback()
    try:
        with connection.cursor() as cursor:
            engine.lock_for_ddl(cursor, reporter, existing)
            rows = table_rows(cursor)
            if any(rows.values()) and not drop_data and rows != agreed:
                raise Refused(refusal(rows, agreed))
            for statement in statements(engine):
                cursor.execute(statement)
    except BaseException:
        with contextlib.suppress(psycopg2.InterfaceError):
            connection.rollback()
        raise
    connection.commit()
    return rows


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


def ask(rows: dict[str, int], sources: list[str]) -> bool:
    """On a terminal: whether the person agrees to drop every table's rows."""
    loaded = f", loaded from {' and '.join(printable(source) for source in sources)}" if sources else ""
    print(f"The tables hold {held(rows)}{loaded}. Drop them all, with their rows, and create them empty? [y/N] ",
          end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: no answer
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def sources_of(connection, rows) -> list[str]:
    """The sources the ledger records, for the question; none when there is no ledger or it is empty."""
    if not rows.get("loaded_files"):
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT source FROM loaded_files ORDER BY source")
            return [source for (source,) in cursor.fetchall()]
    finally:
        connection.rollback()


def interactive() -> bool:
    """Whether a person can answer: standard input is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="create_tables.py",
        description="Create the Sparkify staging tables, star schema and ledger, in one transaction.",
        epilog=f"What it may remove: {WHAT_IT_REMOVES}",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--drop-data",
        action="store_true",
        help="drop and create the tables even when they hold rows, without asking: every loaded row is lost",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the statements for --engine (default redshift) instead of running them; "
        "does not connect",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target, questions and errors")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        engine = args.engine or "redshift"
        print(f"-- create_tables.py --dry-run: the statements for {engine}, in order, in one transaction")
        print(as_script(["BEGIN", *statements(engine), "COMMIT"]), end="")
        return 0
    connection = None
    try:
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        print(f"Target: {target.label}", flush=True)
        connection = connect(target)
        engine = engine_named(args.engine or detect_engine(connection), settings)
        engine.check_connection(connection)
        reporter = Reporter(quiet=args.quiet)
        rows = rows_held(connection, engine, reporter)
        if any(rows.values()) and not args.drop_data:
            if not interactive():
                raise Refused(refusal(rows))
            if not ask(rows, sources_of(connection, rows)):
                print("Nothing was changed: the tables keep their rows (--drop-data drops them without asking).")
                return 0
        dropped = create_tables(connection, engine, drop_data=args.drop_data, agreed=rows, reporter=reporter)
        if not args.quiet:
            gone = f", and dropped the {held(dropped)} they held" if any(dropped.values()) else ""
            print(f"Created ({engine.name}): {', '.join(q.all_tables)}{gone}.")
        return 0
    except Refused as error:
        print(str(error), file=sys.stderr)
        return 2
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        print(f"error: the database said: {str(error).strip()}", file=sys.stderr)
        print("Nothing was changed: the tables are as they were.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was changed, the tables are as they were.", file=sys.stderr)
        return 130
    finally:
        if connection is not None:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
