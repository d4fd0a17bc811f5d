"""The database's failures as the package names them: nothing outside sparkify/engines/ sees a driver's exception.

An engine translates its driver's exceptions into these (as dbt's adapters
do), so the run, the commands and their exit statuses never import a driver,
and a third engine with another driver raises the same classes.
"""


class DatabaseError(Exception):
    """The database refused a statement or failed running it: ``str()`` is what it said, as it said it."""

    def __init__(self, message: str, code: str | None = None, position: int | None = None):
        super().__init__(message)
        self.code = code  # the SQLSTATE, when the database gave one
        self.position = position  # the line of the statement it points at, when it did

    @property
    def first_line(self) -> str:
        """The server's message without its detail lines and its "ERROR:"."""
        lines = [line.strip() for line in str(self).splitlines() if line.strip()]
        return lines[0].removeprefix("ERROR:").strip() if lines else type(self).__name__

    def one_line(self) -> str:
        """'relation "x" does not exist (line 1)': the message, and where in the statement."""
        return f"{self.first_line} (line {self.position})" if self.position else self.first_line


class ConnectionLost(DatabaseError):
    """The connection died under a statement: the server stopped, or the network went."""


class UndefinedTable(DatabaseError):
    """A statement named a table that is not there (create_tables.py has not run)."""


class QueryCancelled(DatabaseError):
    """The statement was cancelled: by us on Ctrl-C, or by a timeout."""


class LockNotAvailable(DatabaseError):
    """A lock asked for with NOWAIT (or within a lock timeout) is held by another session."""


class LockTimeout(QueryCancelled):
    """A statement waited for a lock another session holds longer than the lock timeout, and was cancelled.

    ``str()`` is the whole message for a person: who holds the lock, since
    when, and what to do (engines/lock_wait.py); the exit status is 1, as for
    any statement that failed: nothing was committed.
    """
