"""``--dry-run``: the very sequence of a run, over a connection that records each statement.

Nothing is connected to and nothing is read or written: the recording cursor
answers every query with no rows, the engine describes its loads and
manifests instead of doing them (``engine.dry_run()``), and the files to
stage are assumed: every file of the source, named ``<each ... file>``. The
script that comes out is plain SQL a client can run, with ``--`` comments
where the run does something that is not SQL.
"""

import contextlib

from sparkify.results import CheckFailed
from sparkify.run.ledger import Choice, loaded_files_exists, loaded_files_select
from sparkify.run.pipeline import Request, run
from sparkify.sources import SourceFile

PLACEHOLDERS = {
    "log_data": [SourceFile("<each log file staged>", 0, None, "<its version>")],
    "song_data": [SourceFile("<each song file staged>", 0, None, "<its version>")],
}


class RecordingConnection:
    """Enough of a driver's connection for a run: it keeps what would be sent, in order.

    ``inline(statement, values)``: the statement with its values as the
    engine's literals (what the driver would send).
    """

    def __init__(self, inline):
        self.inline = inline
        self.statements = []
        self.autocommit = False
        self.closed = False
        self._in_transaction = False

    def cursor(self):
        return RecordingCursor(self)

    def close(self):
        pass

    def send(self, statement):
        if not self.autocommit and not self._in_transaction:
            self.statements.append("BEGIN")
            self._in_transaction = True
        self.statements.append(statement)

    def commit(self):
        if self._in_transaction:
            self.statements.append("COMMIT")
        self._in_transaction = False

    def rollback(self):
        if self._in_transaction:
            self.statements.append("ROLLBACK")
        self._in_transaction = False

    def cancel(self):
        pass


class RecordingCursor:
    """Records each statement; every query answers no rows."""

    rowcount = -1
    description = None

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def execute(self, statement, params=None):
        if params is not None:
            statement = self.connection.inline(statement, params)
        self.connection.send(statement)

    def fetchone(self):
        return None

    def fetchall(self):
        return []


def assume(cursor, source, full, since, until) -> Choice:
    """A dry run's choice of files: the ledger is read as a run reads it; every file is taken as chosen."""
    for statement in (loaded_files_exists, loaded_files_select):  # as on a warehouse create_tables.py made
        cursor.execute(statement)
    full = full or not source.listable  # COPY of whole prefixes: always a full load
    files = PLACEHOLDERS if source.listable else None
    reason = "--dry-run: the statements of a full load" if full else "--dry-run: the statements of a daily run"
    return Choice(source=source.label, full=full, reason=reason, files=files)


def planned_statements(engine, source, request=None) -> list[str]:
    """Every statement a run of ``request`` sends to ``engine``, in order, without connecting."""
    engine = engine.dry_run()
    connection = RecordingConnection(engine.inline)
    with contextlib.suppress(CheckFailed):
        run(connection, engine, source, request or Request(), choose=assume)
    return connection.statements
