"""What an engine is: everything a run needs from its database that is not the same on every one.

The run (sparkify/run/pipeline.py) never asks which engine it has: it calls
these methods, and each engine module overrides only what differs from the
defaults here. Adding a flavour (a Redshift Serverless workgroup, say) is a
subclass in that engine's module; adding an engine is a module, an entry in
``ENGINES`` (engines/__init__.py) and a test parameter (docs/design.md).

The engine owns everything database-specific, the driver included: the
cursor it hands out (``Cursor``) renders every statement for its database,
sends values as parameters (bound by the driver, or quoted by the engine
where the driver's quoting is not the database's), and raises the package's
errors (errors.py), never the driver's.
"""

import contextlib
import time

from sparkify.engines import libpq
from sparkify.engines.cancel import cancel_on_interrupt
from sparkify.engines.lock_wait import LockPolicy, LockWait, LockWatch
from sparkify.results import Step, TableLoad
from sparkify.run.ledger import insert_statements
from sparkify.sqltext import summarise


class Cursor:
    """The cursor an engine hands out: what it runs is rendered for the engine, and its errors are the package's.

    ``as_written``: run statements as they are given (query.py's SQL, which is
    the user's, for the target), not as sql_queries.py's Redshift dialect.
    ``log``: told each statement on one line, with its duration (Redshift's
    statements can take minutes: the log shows where the time goes).
    ``watch``: the command's lock watch (lock_wait.py), which says who holds
    up a statement that waits for a lock, and cancels it at the lock timeout.
    """

    def __init__(self, engine, cursor, log=None, as_written=False, watch=None):
        self._engine = engine
        self._cursor = cursor
        self._log = log
        self._as_written = as_written
        self._watch = watch

    def _watched(self):
        return self._watch.statement() if self._watch is not None else contextlib.nullcontext()

    def execute(self, statement, params=None):
        text = statement if self._as_written else self._engine.render(statement)
        if params is not None and not self._engine.binds_parameters:
            text, params = self._engine.inline(text, params), None
        started, outcome = time.perf_counter(), "  (failed)"
        try:
            with self._watched(), self._engine.translated(self._cursor.connection):
                result = self._cursor.execute(text, params)
            outcome = ""
            return result
        finally:
            if self._log is not None:
                self._log(f"{time.perf_counter() - started:8.2f} s  {summarise(text)}{outcome}")

    def copy_expert(self, statement, stream, size=8192):
        with self._watched(), self._engine.translated(self._cursor.connection):
            return self._cursor.copy_expert(statement, stream, size)

    def fetchone(self):
        with self._engine.translated(self._cursor.connection):
            return self._cursor.fetchone()

    def fetchall(self):
        with self._engine.translated(self._cursor.connection):
            return self._cursor.fetchall()

    def fetchmany(self, size=None):
        with self._engine.translated(self._cursor.connection):
            return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    def close(self):
        close = getattr(self._cursor, "close", None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getattr__(self, name):  # rowcount, description, statusmessage, connection...
        return getattr(self._cursor, name)


class RebuiltKeys:
    """The unique keys that a bulk insert (Engine.bulk_insert) builds after its INSERTs, enforced: none here."""

    def rebuilds(self, table: str, definition: str) -> bool:
        """Whether the key ``definition`` of ``table`` is built, and so enforced, over every row written."""
        return False

    def insert_and_build(self, cursor, table: str, definition: str, insert):
        """Run ``insert()`` (an INSERT into ``table``, its Step returned) and build the key at once.

        The Step when the rows hold the key; else None, with the INSERT undone.
        """
        raise NotImplementedError


class Engine:
    name = "sql"
    label = "SQL"
    default_source = None  # the source a run reads without --source: None for the config's [S3] paths
    copies_from_s3 = False  # whether the database reads the source from S3 itself (with an IAM role)
    required_settings = ()  # (section, key) of dwh.cfg a run on this engine cannot do without

    binds_parameters = True  # whether the driver's quoting of a bound value is this database's
    logs_statements = False  # whether the run logs each statement with its duration
    lock_watch = None  # the command's LockWatch while watching_locks() runs

    # -- statements ---------------------------------------------------------

    def render(self, statement: str) -> str:
        """A statement of sql_queries.py (Redshift's dialect) as this engine runs it.

        Only the engine's cursor calls it: a statement goes through it once, on its way out.
        """
        return statement

    def table_statements(self, create_table: str) -> list[str]:
        """What creates one table of sql_queries.py on this engine (the table, and any index), unrendered."""
        return [create_table]

    @staticmethod
    def literal(value) -> str:
        """``value`` as a literal of this database's SQL: a string holds exactly its text."""
        raise NotImplementedError

    @classmethod
    def inline(cls, statement: str, params) -> str:
        """``statement`` with each ``%s`` replaced by the literal of its value (``%%`` is ``%``),
        as the driver binds them: for a database whose literals the driver does not quote as it
        reads them, and for a dry run's script."""
        return statement % tuple(cls.value_literal(value) for value in params)

    @classmethod
    def value_literal(cls, value) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        return cls.literal(value)

    # -- connection ---------------------------------------------------------

    @staticmethod
    def recognises(version: str) -> bool:
        """Whether the server that answered ``SELECT version()`` with ``version`` is this engine's."""
        return False

    def check_connection(self, connection) -> None:
        """Refuse a connection this engine must not use (Redshift: one that is not encrypted)."""

    def translated(self, connection=None):
        """A block in which the driver's exceptions are raised as the package's (errors.py)."""
        return libpq.translated(connection)

    def cursor(self, cursor, reporter=None, as_written=False, as_text=False) -> Cursor:
        """The cursor every statement goes through, around the driver's ``cursor``.

        ``as_text``: every value comes back as the server's own text (None for NULL), not as a Python object.
        """
        log = reporter.line if self.logs_statements and reporter is not None else None
        if as_text:
            libpq.as_server_text(cursor)
        watch = self.lock_watch
        if watch is not None and not watch.watches(getattr(cursor, "connection", None)):
            watch = None
        return Cursor(self, cursor, log, as_written, watch)

    @contextlib.contextmanager
    def cursor_on(self, connection, reporter=None, as_written=False, as_text=False):
        """``cursor()`` on a new cursor of ``connection``, closed after the block."""
        with self.translated(connection):
            raw = connection.cursor()
        with self.cursor(raw, reporter, as_written, as_text) as cursor:
            yield cursor

    def commit(self, connection) -> None:
        with self.translated(connection):
            connection.commit()

    def rollback(self, connection) -> None:
        with self.translated(connection):
            connection.rollback()

    def cancel(self, connection) -> None:
        """Ask the server to cancel the statement running on ``connection`` (from another thread)."""
        connection.cancel()

    def cancelling(self, connection):
        """A block in which Ctrl-C, SIGTERM or SIGHUP cancel the running statement at once (cancel.py)."""
        return cancel_on_interrupt(lambda: self.cancel(connection))

    # -- lock waits ---------------------------------------------------------

    @contextlib.contextmanager
    def watching_locks(self, connection, connect, say, policy: LockPolicy | None = None):
        """A block in which every statement on ``connection`` that waits for a lock another session holds is
        said (who holds it) and given up at the lock timeout (lock_wait.py). ``connect()`` opens the
        watch's own connection when it is first needed; ``say`` prints a line."""
        with LockWatch(self, connection, connect, say, policy) as watch:
            previous, self.lock_watch = self.lock_watch, watch
            try:
                yield watch
            finally:
                self.lock_watch = previous

    def lock_wait(self, cursor, pid) -> LockWait | None:
        """What session ``pid`` waits for and the sessions that hold it up, read with ``cursor`` (another
        session's); None when it waits for no lock, or when this engine cannot tell."""
        return None

    # -- the run's steps ----------------------------------------------------

    def lock(self, cursor, reporter) -> None:
        """Wait until no other run loads this warehouse; held until commit or rollback."""
        raise NotImplementedError

    def lock_for_ddl(self, cursor, reporter, tables) -> None:
        """Before create_tables.py drops ``tables`` (those of the project that exist): wait, as lock() does,
        until no run loads this warehouse; held until commit or rollback."""
        self.lock(cursor, reporter)

    @contextlib.contextmanager
    def read_only(self, connection, reporter):
        """A transaction that reads the warehouse as a committed run left it (etl.py --check)."""
        yield

    def wait_for_writers(self, cursor, reporter, tables=None) -> None:
        """Before a read: wait until no session is rewriting ``tables`` in a way a snapshot cannot hide
        (PostgreSQL's TRUNCATE), saying so. None: every warehouse table there is (READ COMMITTED only)."""

    def open_source(self, locations, full: bool, dated: bool):
        """(the source to stage, a line to tell the user or None) for the run's source locations."""
        raise NotImplementedError

    def stage(self, cursor, source, mode, max_errors, reporter) -> list[TableLoad]:
        """Stage the mode's chosen files into its staging targets; return what each table loaded."""
        for statement in self.staging_setup(mode):
            cursor.execute(statement)
        self.before_load(cursor, mode)
        loads = self.load(cursor, source, mode, max_errors, reporter)
        rejected = [record for load in loads for record in load.rejected]
        if rejected:
            self.keep_rejected(cursor, rejected)
        for statement in mode.analyze_statements(loads):
            cursor.execute(statement)
        self.after_load(cursor, mode)
        return loads

    def staging_setup(self, mode) -> list[str]:
        """What readies staging for the mode's load (a full load empties it): the mode's statements, as written."""
        return mode.staging_setup()

    def before_load(self, cursor, mode) -> None:
        pass

    def load(self, cursor, source, mode, max_errors, reporter) -> list[TableLoad]:
        raise NotImplementedError

    def keep_rejected(self, cursor, rejected) -> None:
        """Keep the rejected records in the rejected_records table."""
        raise NotImplementedError

    def after_load(self, cursor, mode) -> None:
        pass

    def clear_star(self) -> list[str]:
        """What empties the star schema inside the run's transaction."""
        raise NotImplementedError

    def transform_settings(self) -> list[str]:
        """Session settings for the transform, local to the run's transaction."""
        return []

    @contextlib.contextmanager
    def bulk_insert(self, cursor, tables: list, steps: list):
        """Around the full load's INSERTs into ``tables``: what makes a bulk insert fast here.

        Yields the keys it rebuilds after the INSERTs (``RebuiltKeys``: none
        here, where keys are only recorded). Appends a Step to ``steps`` for
        any work done after the INSERTs.
        """
        yield RebuiltKeys()

    @contextlib.contextmanager
    def planning(self, cursor, statement: str):
        """Around one statement of the transform: planner settings for it alone (none here)."""
        yield

    def enforced_constraints(self, cursor) -> set:
        """(table, definition) of the keys the database enforces, so that their checks need not count."""
        return set()

    def after_commit(self, connection, mode, reporter) -> list[Step]:
        """Work that cannot run inside the run's transaction, done once it has committed."""
        return []

    def after_rollback(self, connection, reporter) -> None:
        """Work that cannot run inside the run's transaction, done once a failed run has rolled back.

        Not called after Ctrl-C, SIGTERM or SIGHUP, which end the run at once.
        """

    def emptying(self, statement: str) -> str:
        """What runs for sql_queries.py's whole-table DELETE of a table the run refills (the ledger)."""
        return statement

    def record_rows(self, cursor, table: str, rows: list) -> None:
        """Add ``rows`` (lists of values in column_list(table)'s order) to ``table``: multi-row INSERTs."""
        for statement, values in insert_statements(table, rows):
            cursor.execute(statement, values)

    def dry_run(self):
        """This engine with its side effects (files read, objects written) described instead of done."""
        return self

    # -- a person's SQL (query.py: engines/user_sql.py) -----------------------

    backslash_quotes = False  # whether '...' takes backslash escapes, when the server does not say
    fetch_size = 5000  # rows per FETCH of a result streamed through a cursor
    copies_csv = False  # whether the server writes a query's rows as CSV itself (COPY (query) TO STDOUT)

    def begin(self, write: bool) -> str:
        """What opens query.py's transaction: read-only unless the operator asked to write."""
        return "BEGIN" if write else "BEGIN READ ONLY"

    def still_read_only(self, cursor) -> bool | None:
        """Whether the server still holds the open transaction read-only; None where it cannot tell."""
        return None
