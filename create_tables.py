"""Drop and create the staging tables and the star schema.

    python create_tables.py                 # the embedded PostgreSQL
    python create_tables.py --dry-run --engine redshift

The statements come from sql_queries.py in Redshift's dialect, rendered for
the target's engine (sparkify/engines/). They run in one transaction: if one
fails, the tables are as they were.
"""

import argparse
import sys

import psycopg2

import sql_queries as q
from sparkify.cli import add_target_arguments
from sparkify.config import TargetError, load_settings
from sparkify.engines import detect_engine, engine_named
from sparkify.engines.connect import choose_target, connect
from sparkify.sqltext import as_script


def statements(engine) -> list[str]:
    """Every statement create_tables.py runs, in order, for ``engine`` (an Engine or its name)."""
    engine = engine_named(engine) if isinstance(engine, str) else engine
    result = [engine.render(statement) for statement in q.drop_table_queries]
    for statement in q.create_table_queries:
        result += engine.table_statements(statement)
    return result


def create_tables(connection, engine) -> None:
    with connection.cursor() as cursor:
        for statement in statements(engine):
            cursor.execute(statement)
    connection.commit()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="create_tables.py",
        description="Drop and create the Sparkify staging tables and star schema "
        "(all existing data in them is lost).",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the statements for --engine (default redshift) instead of running them; "
        "does not connect",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target and errors")
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
        create_tables(connection, engine)
        if not args.quiet:
            print(f"Created ({engine.name}): {', '.join(q.all_tables)}.")
        return 0
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        print(f"error: the database said: {str(error).strip()}", file=sys.stderr)
        print("Nothing was changed: the tables are as they were.", file=sys.stderr)
        return 1
    finally:
        if connection is not None:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
