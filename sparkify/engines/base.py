"""What an engine is: everything a run needs from its database that is not the same on every one.

The run (sparkify/run/pipeline.py) never asks which engine it has: it calls
these methods, and each engine module overrides only what differs from the
defaults here. Adding a flavour (a Redshift Serverless workgroup, say) is a
subclass in that engine's module.
"""

import contextlib

from sparkify.results import Step, TableLoad


class Engine:
    name = "sql"
    label = "SQL"
    default_source = None  # the source a run reads without --source: None for the config's [S3] paths
    copies_from_s3 = False  # whether the database reads the source from S3 itself (with an IAM role)
    required_settings = ()  # (section, key) of dwh.cfg a run on this engine cannot do without

    # -- statements ---------------------------------------------------------

    def render(self, statement: str) -> str:
        """A statement of sql_queries.py (Redshift's dialect) as this engine runs it."""
        return statement

    def table_statements(self, create_table: str) -> list[str]:
        """What creates one table of sql_queries.py on this engine (the table, and any index)."""
        return [self.render(create_table)]

    # -- connection ---------------------------------------------------------

    def check_connection(self, connection) -> None:
        """Refuse a connection this engine must not use (Redshift: one that is not encrypted)."""

    def cursor(self, cursor, reporter):
        """The cursor the run uses: the connection's, or one that logs each statement."""
        return cursor

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
    def bulk_insert(self, cursor, table: str, steps: list):
        """Around the full load's INSERTs into ``table``: what makes a bulk insert fast here.

        Appends a Step to ``steps`` for any work done after the INSERTs.
        """
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

    def dry_run(self):
        """This engine with its side effects (files read, objects written) described instead of done."""
        return self
