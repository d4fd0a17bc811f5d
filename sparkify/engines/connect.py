"""Which database the scripts talk to, and how they connect to it.

The target is chosen in this order:

1. ``--dsn`` or the ``DWH_DSN`` environment variable: any libpq DSN or URI,
   PostgreSQL or Redshift;
2. the ``[CLUSTER]`` section of ``dwh.cfg`` (or ``--config FILE``), when it
   names a HOST;
3. the embedded PostgreSQL of local_postgres.py.

Passwords never leave this module: ``Target.label`` is the redacted form that
the scripts print.

A Redshift connection is encrypted: ``sslmode=require`` by default, or
``verify-full`` against Amazon's CA bundle when ``[CLUSTER] SSLROOTCERT``
names it, and ``require_tls`` refuses a Redshift connection that is not. The
connection times out after 10 seconds and is tried three times, except when
the server refused the login (trying again would not help).
"""

import configparser
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from sparkify.engines import embedded as local_postgres
from sparkify.engines.dialect import summarise

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_DIR / "dwh.cfg"
PASSWORD_ENV = "DWH_DB_PASSWORD"


class TargetError(Exception):
    """A problem with the configuration or the connection, worded for a person."""


@dataclass
class Target:
    dsn: str
    label: str  # what to print: never holds the password
    local: bool  # the embedded PostgreSQL
    config: configparser.ConfigParser


def config_path(config_file=None) -> Path:
    return Path(config_file or os.environ.get("DWH_CONFIG") or DEFAULT_CONFIG)


def read_config(config_file=None) -> configparser.ConfigParser:
    """dwh.cfg, or an empty config when there is none and none was asked for."""
    config = configparser.ConfigParser(interpolation=None)
    path = config_path(config_file)
    if not path.exists():
        if config_file:
            raise TargetError(
                f"config file {path} not found: copy dwh.cfg.example to {path} and fill it in"
            )
        return config
    try:
        config.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise TargetError(f"{path}: {parse_problem(error)}: compare it with dwh.cfg.example") from None
    warn_if_others_can_read(path, config)
    return config


def parse_problem(error: configparser.Error) -> str:
    """Where the config file is malformed, without quoting the line: it may hold a password."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [SECTION] header"
    if isinstance(error, configparser.ParsingError):
        return f"line {error.errors[0][0]} is not KEY=value"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"[{error.section}] {error.option} is set twice (line {error.lineno})"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"[{error.section}] appears twice (line {error.lineno})"
    return f"it cannot be read ({type(error).__name__})"


SECRETS = (("CLUSTER", "DB_PASSWORD"), ("AWS", "KEY"), ("AWS", "SECRET"))
_warned = set()


def warn_if_others_can_read(path: Path, config: configparser.ConfigParser) -> None:
    """Warn, once, when a config that holds a password or an AWS key can be read by other users.

    A config without secrets (the password in DWH_DB_PASSWORD, the keys found
    by boto3) is harmless to share, so it gets no warning.
    """
    mode = path.stat().st_mode & 0o777
    if not mode & 0o044 or path in _warned:
        return
    if any(config.has_section(section) and config[section].get(key, "").strip() for section, key in SECRETS):
        _warned.add(path)
        print(
            f"warning: {path} holds a password or an AWS key and other users can read it "
            f"(mode {mode:o}): run chmod 600 {path}, or move the secret to {PASSWORD_ENV} / your AWS profile",
            file=sys.stderr,
        )


def choose_target(dsn=None, config_file=None, pgdata=None) -> Target:
    """Resolve the target in the documented order; start the embedded server if it is the one."""
    config = read_config(config_file)
    dsn = dsn or os.environ.get("DWH_DSN")
    if dsn:
        return Target(dsn=dsn, label=redact(dsn), local=False, config=config)
    if config.has_section("CLUSTER") and config["CLUSTER"].get("HOST", "").strip():
        dsn = cluster_dsn(config, config_path(config_file))
        return Target(dsn=dsn, label=redact(dsn), local=False, config=config)
    pgdata = Path(pgdata or local_postgres.DEFAULT_PGDATA)
    dsn = local_postgres.start(pgdata)
    label = f"embedded PostgreSQL in {local_postgres.describe(pgdata)} (database {local_postgres.DATABASE})"
    return Target(dsn=dsn, label=label, local=True, config=config)


def cluster_dsn(config: configparser.ConfigParser, path: Path) -> str:
    """A libpq DSN from the [CLUSTER] section; the password may come from DWH_DB_PASSWORD."""
    cluster = config["CLUSTER"]

    def key(name, default=None):
        value = cluster.get(name, "").strip() or default
        if value is None:
            raise TargetError(
                f"{path}: [CLUSTER] {name} is missing: set it (see dwh.cfg.example)"
            )
        return value

    port = key("DB_PORT", "5439")
    if not port.isdigit():
        raise TargetError(f"{path}: [CLUSTER] DB_PORT must be a number, not {port!r} (see dwh.cfg.example)")
    auth = cluster.get("AUTH", "").strip().lower() or "password"
    if auth not in ("password", "iam"):
        raise TargetError(f"{path}: [CLUSTER] AUTH must be password or iam, not {auth!r} (see dwh.cfg.example)")
    if auth == "iam":
        # No stored password: a temporary one from IAM (sparkify/aws/iam_auth.py, docs/iam-authentication.md).
        from sparkify.aws import iam_auth

        try:
            user, password = iam_auth.temporary_credentials(config, key("HOST"))
        except iam_auth.IamAuthError as error:
            raise TargetError(f"{path}: {error}") from None
    else:
        user = key("DB_USER")
        password = os.environ.get(PASSWORD_ENV) or cluster.get("DB_PASSWORD", "").strip()
    if not password:
        raise TargetError(
            f"{path}: [CLUSTER] DB_PASSWORD is missing: export {PASSWORD_ENV}=... (better: it stays out of "
            "the file), set it in the file (see dwh.cfg.example), or set AUTH=iam"
        )
    tls = tls_settings(cluster.get("SSLMODE", "").strip(), cluster.get("SSLROOTCERT", "").strip(), path)
    return psycopg2.extensions.make_dsn(
        host=key("HOST"),
        port=port,
        dbname=key("DB_NAME"),
        user=user,
        password=password,
        **tls,
    )


def tls_settings(sslmode: str, sslrootcert: str, path: Path) -> dict:
    """libpq's TLS settings for [CLUSTER]: encrypted by default, verified when a CA bundle is given.

    A weaker SSLMODE (prefer, disable) is left to whoever writes it, for a
    PostgreSQL without TLS; require_tls() still refuses Redshift without it.
    """
    sslmode = sslmode or ("verify-full" if sslrootcert else "require")
    if not sslrootcert:
        default_bundle = Path("~/.postgresql/root.crt").expanduser()
        if sslmode.startswith("verify") and not (os.environ.get("PGSSLROOTCERT") or default_bundle.exists()):
            raise TargetError(
                f"{path}: [CLUSTER] SSLMODE={sslmode} needs Amazon's CA bundle: download "
                "https://s3.amazonaws.com/redshift-downloads/amazon-trust-ca-bundle.crt "
                "and set [CLUSTER] SSLROOTCERT to its path"
            )
        return {"sslmode": sslmode}
    certificate = Path(sslrootcert).expanduser()
    if not certificate.is_file():
        raise TargetError(f"{path}: [CLUSTER] SSLROOTCERT {certificate} not found")
    return {"sslmode": sslmode, "sslrootcert": str(certificate)}


def redact(dsn: str) -> str:
    """host:port/dbname as user, for printing; the password is never shown."""
    try:
        params = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "a DSN that libpq cannot parse"
    host = params.get("host", "localhost")
    port = f":{params['port']}" if "port" in params else ""
    user = f" as {params['user']}" if "user" in params else ""
    password = ", password ***" if "password" in params else ""
    return f"{host}{port}/{params.get('dbname', '')}{user}{password}"


# A server that answered and said no: trying again would not help.
REFUSALS = ("password authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")


def connect(target: Target, attempts: int = 3, timeout: int = 10):
    """Connect, retrying a failed attempt a couple of times with a growing pause."""
    for attempt in range(1, attempts + 1):
        try:
            return psycopg2.connect(
                target.dsn, connect_timeout=timeout, application_name="sparkify-etl"
            )
        except psycopg2.ProgrammingError:  # libpq's message quotes the DSN, password and all
            raise TargetError(
                "the DSN (--dsn or DWH_DSN) cannot be parsed: write it as key=value pairs "
                "(host=... dbname=... user=...) or as postgresql://user@host:port/dbname"
            ) from None
        except psycopg2.OperationalError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            if any(refusal in reason for refusal in REFUSALS):
                raise TargetError(f"{target.label} refused the connection: {reason}") from None
            if attempt == attempts:
                raise TargetError(
                    f"could not connect to {target.label} after {attempts} attempts: {reason}"
                ) from None
            time.sleep(2 ** (attempt - 1))


def detect_engine(connection) -> str:
    """'redshift' or 'postgres', from what the server says it is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    connection.rollback()
    return "redshift" if "redshift" in version.lower() else "postgres"


def require_tls(connection, engine: str) -> None:
    """Refuse to go on with Redshift over an unencrypted connection."""
    if engine == "redshift" and not connection.info.ssl_in_use:
        raise TargetError(
            "the connection to Redshift is not encrypted: add sslmode=require to the DSN "
            "(or leave [CLUSTER] SSLMODE at its default)"
        )


class StatementLog:
    """A cursor that reports every statement it runs on one line, with its duration.

    Used on Redshift, where one statement can take minutes: the log shows
    where the time goes and which statement failed. Secrets are masked
    (sql_dialect.summarise).
    """

    def __init__(self, cursor, log):
        self._cursor = cursor
        self._log = log

    def execute(self, statement, params=None):
        started = time.perf_counter()
        outcome = "  (failed)"
        try:
            result = self._cursor.execute(statement, params)
            outcome = ""
            return result
        finally:
            self._log(f"{time.perf_counter() - started:8.2f} s  {summarise(statement)}{outcome}")

    def __getattr__(self, name):
        return getattr(self._cursor, name)

@contextlib.contextmanager
def cancel_on_interrupt(connection):
    """Within the block, Ctrl-C cancels the running statement at once.

    Python runs its SIGINT handler only between bytecodes, so a Ctrl-C during
    a statement that runs for minutes would wait for it to end. The C-level
    handler does write the signal's number to the wakeup fd at once: a thread
    waiting on it asks the server to cancel the statement, and the
    KeyboardInterrupt follows as usual, in the main thread. Outside the main
    thread (no signals there) the block runs as it is.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        reader.close()
        writer.close()
        yield
        return
    interrupted = threading.Event()

    def watch():
        while data := reader.recv(64):
            if signal.SIGINT in data:
                interrupted.set()
                with contextlib.suppress(Exception):
                    connection.cancel()

    watcher = threading.Thread(target=watch, name="cancel-on-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    except psycopg2.errors.QueryCanceled:
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()  # ends the watcher
        watcher.join(timeout=1)
        reader.close()


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


def add_target_arguments(parser) -> None:
    """The options both scripts share."""
    parser.add_argument(
        "--engine",
        choices=["redshift", "postgres"],
        help="the SQL dialect of the target (default: asked of the server with version())",
    )
    parser.add_argument(
        "--dsn",
        help="connect to this libpq DSN or URI (PostgreSQL or Redshift); default: $DWH_DSN, "
        "then [CLUSTER] in the config, then the embedded PostgreSQL",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $DWH_CONFIG, else dwh.cfg next to the scripts)",
    )
    parser.add_argument(
        "--pgdata",
        metavar="DIR",
        help="data folder of the embedded PostgreSQL (default: .pgdata in the project)",
    )
