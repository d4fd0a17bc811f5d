"""psycopg2, the driver both engines speak through: its exceptions as the package's, and libpq's DSNs.

PostgreSQL and Redshift both speak libpq's protocol, so both engines use
this module; an engine with another driver would have a module like it.
Nothing outside sparkify/engines/ imports psycopg2.
"""

import contextlib
import re

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from sparkify.engines.errors import ConnectionLost, DatabaseError, LockNotAvailable, QueryCancelled, UndefinedTable

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html): class 08 is a connection
# exception; 57P01-57P03 a server shutting down or starting.
_LOST = ("57P01", "57P02", "57P03")
_KINDS = {"42P01": UndefinedTable, "57014": QueryCancelled, "55P03": LockNotAvailable}
_LINE = re.compile(r"^LINE (\d+):", re.MULTILINE)

Error = psycopg2.Error  # what translate() takes

# The types psql right-aligns (its print.c, column_type_alignment): the integers, oid, xid, cid, float,
# numeric and money.
RIGHT_ALIGNED_TYPES = frozenset({20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069})


def translate(error: psycopg2.Error, connection=None) -> DatabaseError:
    """The package's exception for one of psycopg2's."""
    message = str(error).strip() or type(error).__name__
    code = getattr(error, "pgcode", None)
    if connection is None:
        connection = getattr(getattr(error, "cursor", None), "connection", None)
    lost = (isinstance(error, psycopg2.InterfaceError) or getattr(connection, "closed", 0)
            or (code or "").startswith("08") or code in _LOST)
    kind = ConnectionLost if lost else _KINDS.get(code, DatabaseError)
    line = _LINE.search(getattr(error, "pgerror", None) or message)
    return kind(message, code, int(line.group(1)) if line else None)


@contextlib.contextmanager
def translated(connection=None):
    """Within the block, psycopg2's exceptions are raised as the package's (errors.py)."""
    try:
        yield
    except psycopg2.Error as error:
        raise translate(error, connection) from error


def parse_dsn(dsn: str) -> dict:
    """A libpq DSN or URI as its parameters; ValueError when libpq cannot read it."""
    try:
        return psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        raise ValueError("a DSN that libpq cannot parse") from None


def make_dsn(dsn: str | None = None, **parameters) -> str:
    """A libpq DSN of ``parameters`` (added to ``dsn``), each value quoted as libpq needs."""
    return psycopg2.extensions.make_dsn(dsn, **parameters)


def as_server_text(cursor) -> None:
    """Make ``cursor`` hand back every value as the text the server sent, as psql shows it.

    psycopg2 turns the types it knows into Python objects (bytea into a
    memoryview, jsonb into a dict, an interval into a timedelta), whose str()
    is not the SQL value; registered on this cursor alone, one caster keeps
    the server's text for all of them (NULL stays None). Types psycopg2 does
    not know come back as text already.
    """
    known = set(psycopg2.extensions.string_types) | set(getattr(cursor.connection, "string_types", {}))
    psycopg2.extensions.register_type(
        psycopg2.extensions.new_type(tuple(sorted(known)), "SERVER_TEXT", lambda value, _cursor: value), cursor)


def in_transaction(connection) -> bool:
    """Whether the server says the session is inside a transaction block (open or failed)."""
    return connection.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE


def standard_conforming_strings(connection) -> bool | None:
    """Whether the server reads a backslash in '...' as itself (standard_conforming_strings, which it reports
    on every change); None when it does not say."""
    value = connection.info.parameter_status("standard_conforming_strings")
    return None if value is None else value == "on"
