"""A person's SQL on the target (query.py): one statement at a time, read-only unless the operator asked to
write, each result's rows streamed in batches as the server's own text.

Read-only is held by the server, not by reading the SQL for dangerous words:

- Every statement runs inside a transaction opened by the engine's ``begin``
  (``BEGIN READ ONLY``), in which the server refuses every write, whatever
  the statement calls: a function, a DO block, a procedure, a CTE. A
  statement that ends the transaction (COMMIT, ROLLBACK, ABORT, END) ends it
  for itself: the next statement gets a new read-only one.
- Before each statement the engine asks the server whether the transaction is
  still read-only (PostgreSQL: ``transaction_read_only``), and the statement
  is refused if it is not: ``COMMIT AND CHAIN`` opens a transaction that a
  ``SET transaction_read_only = off`` could otherwise turn read-write. The
  question takes the transaction's snapshot, after which no statement can.
- The SQL is cut into statements by sqlsplit.py, and each goes alone: no
  message to the server holds a second statement that could end the
  transaction and write in the same breath.
- On the embedded PostgreSQL, query.py connects as embedded.READER, which may
  write nothing and has none of a superuser's powers (server files, programs,
  signals to other sessions). A server named by a DSN is reached as the DSN's
  role: a read-only transaction stops every write to the database, but what a
  superuser may do outside it is the role's (give query.py a role without
  superuser there).

With ``write``, the statements run in one transaction, committed by
``finish()`` once all ran and their results were written; a failure, an
interruption or output that could not be written commits nothing (a COMMIT
of the SQL's own commits what came before it).

A result with rows comes through a cursor (DECLARE, then FETCH of the
engine's ``fetch_size`` rows at a time) when the statement is a query
(SELECT, VALUES, TABLE, WITH ... SELECT): memory stays flat whatever its size.
Other statements that return rows (EXPLAIN, SHOW, FETCH, ... RETURNING) are
read whole, as the driver reads them.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from sparkify import sqlsplit
from sparkify.engines import libpq
from sparkify.engines.errors import ConnectionLost, DatabaseError, QueryCancelled
from sparkify.results import Failed

CURSOR = '"sparkify query rows"'  # a name no one's SQL uses by chance
# What goes on as it is, not as a refused statement: a lost connection (exit 2), and a cancel, which the engine's
# cancelling() turns into the Ctrl-C, SIGTERM or SIGHUP that asked for it
PASSED_ON = (ConnectionLost, QueryCancelled)


class QueryError(Failed):
    """The database refused a statement, or query.py refused to send it; the message is one line."""


@dataclass
class Result:
    """What one statement gave: rows (``columns`` set, ``batches`` to read once), or a status (``columns`` None)."""

    statement: sqlsplit.Statement
    columns: list[str] | None = None
    right_aligned: list[bool] = field(default_factory=list)
    batches: Iterator[list[tuple]] = field(default_factory=lambda: iter(()))
    status: str = ""


class UserSQL:
    """A person's statements on ``connection``, run by ``engine``; see the module's docstring."""

    def __init__(self, engine, connection, write: bool = False, reporter=None):
        self.engine = engine
        self.connection = connection
        self.write = write
        self.reporter = reporter
        with engine.translated(connection):
            connection.rollback()
            connection.autocommit = True  # the transactions are this class's: the driver must not open one
        self.cursor = engine.cursor(connection.cursor(), as_written=True, as_text=True)

    def statements(self, sql: str) -> list[sqlsplit.Statement]:
        """``sql`` cut into statements as this server reads it (standard_conforming_strings, if it says)."""
        standard = libpq.standard_conforming_strings(self.connection)
        backslashes = self.engine.backslash_quotes if standard is None else not standard
        try:
            return sqlsplit.split(sql, sqlsplit.Reading(backslash_quotes=backslashes))
        except sqlsplit.AmbiguousSQL as error:
            raise QueryError(str(error)) from None

    def run(self, statement: sqlsplit.Statement) -> Result:
        """Run one statement; its rows, if any, are read as ``batches`` is iterated."""
        try:
            self._open(statement)
            if self._streams(statement):
                self.cursor.execute(f"DECLARE {CURSOR} CURSOR FOR {statement.text}")
                first = self._fetch()
                return self._rows(statement, self._cursor_batches(first, statement))
            self.cursor.execute(statement.text)
            if self.cursor.description is None:
                return Result(statement, status=self.cursor.statusmessage or "")
            return self._rows(statement, self._client_batches(statement))
        except PASSED_ON:
            raise
        except DatabaseError as error:
            raise QueryError(refused(error, statement)) from None

    def copies_csv(self, statement: sqlsplit.Statement) -> bool:
        """Whether the server can write the statement's rows as CSV itself: the engine can, and the statement is
        a query whose parentheses balance under every reading (so that ours around it stay ours)."""
        return self.engine.copies_csv and self._streams(statement) and sqlsplit.balanced_everywhere(statement)

    def copy_csv(self, statement: sqlsplit.Statement, binary) -> None:
        """Write the statement's rows to ``binary`` as the server writes CSV (COPY (query) TO STDOUT, a header
        first); only where ``copies_csv()``.

        The driver hands each line to ``binary.write`` as it comes: its errors (a closed pipe) go through.
        """
        try:
            self._open(statement)
            # the line break ends a -- comment the statement may end with
            self.cursor.copy_expert(f"COPY ({statement.text}\n) TO STDOUT (FORMAT csv, HEADER)", binary, 1 << 16)
        except PASSED_ON:
            raise
        except DatabaseError as error:
            raise QueryError(refused(error, statement)) from None
        except BaseException:
            # the output failed (| head has gone): stop the server sending, or the ROLLBACK after it would
            # first read what is left of the result (libpq drains a COPY before the next statement)
            with contextlib.suppress(Exception):
                self.engine.cancel(self.connection)
            raise

    def finish(self) -> None:
        """Commit (with ``write``), or end the read-only transaction."""
        if libpq.in_transaction(self.connection):
            self.cursor.execute("COMMIT" if self.write else "ROLLBACK")

    def abandon(self) -> None:
        """Roll back whatever is open: nothing of a failed or interrupted run is committed. (On a connection
        that is lost, the server rolls back by itself.)"""
        if not self.connection.closed and libpq.in_transaction(self.connection):
            with contextlib.suppress(DatabaseError):
                self.cursor.execute("ROLLBACK")

    # -- inside -----------------------------------------------------------

    def _open(self, statement) -> None:
        """Be in a transaction of the right kind before ``statement``: open one if the last statement ended it,
        and, read-only, refuse to go on if the server no longer holds it read-only."""
        if not libpq.in_transaction(self.connection):
            self.cursor.execute(self.engine.begin(self.write))
            self.engine.wait_for_writers(self.cursor, self.reporter)
        if not self.write and self.engine.still_read_only(self.cursor) is False:
            raise QueryError(
                f"the statements before line {statement.line} made the transaction read-write (COMMIT AND CHAIN, "
                "then SET transaction_read_only = off?): query.py stops there, nothing was changed; add --write "
                "to let the SQL change the warehouse"
            )
        if statement.first_word == "COPY" and statement.has_word("STDIN", "STDOUT", depth=0):
            raise QueryError(f"COPY ... FROM STDIN or TO STDOUT (line {statement.line}) is psql's: for CSV, run "
                             "the SELECT with query.py --csv")

    @staticmethod
    def _streams(statement) -> bool:
        """Whether the statement is a query that DECLARE takes (not SELECT ... INTO, not a CTE that writes)."""
        if statement.first_word in ("SELECT", "VALUES", "TABLE"):
            return not statement.has_word("INTO", depth=0)
        if statement.first_word == "WITH":
            return not statement.has_word("INSERT", "UPDATE", "DELETE", "MERGE")
        return False

    def _fetch(self) -> list[tuple]:
        self.cursor.execute(f"FETCH FORWARD {self.engine.fetch_size} FROM {CURSOR}")
        return self.cursor.fetchall()

    def _rows(self, statement, batches) -> Result:
        description = self.cursor.description
        return Result(statement, columns=[column.name for column in description],
                      right_aligned=[column.type_code in libpq.RIGHT_ALIGNED_TYPES for column in description],
                      batches=batches)

    def _cursor_batches(self, first, statement):
        batch = first
        try:
            while batch:
                yield batch
                batch = self._fetch()
            self.cursor.execute(f"CLOSE {CURSOR}")  # Redshift keeps one cursor open at a time
        except PASSED_ON:
            raise
        except DatabaseError as error:
            raise QueryError(refused(error, statement)) from None

    def _client_batches(self, statement):
        try:
            while batch := self.cursor.fetchmany(self.engine.fetch_size):
                yield batch
        except PASSED_ON:
            raise
        except DatabaseError as error:
            raise QueryError(refused(error, statement)) from None


READ_ONLY_VIOLATION = "25006"  # SQLSTATE read_only_sql_transaction
WRITE_HINT = "query.py runs read-only; add --write to let the SQL change the warehouse"


def refused(error: DatabaseError, statement: sqlsplit.Statement) -> str:
    """What the server said, in one line, with the line of the whole SQL it points at (and, for a write that
    the read-only transaction refused, how to allow it)."""
    said = error.first_line
    if error.position:
        said = f"{said} (line {statement.line + error.position - 1})"
    if error.code == READ_ONLY_VIOLATION:
        said = f"{said}: {WRITE_HINT}"
    return said
