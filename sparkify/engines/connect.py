"""Which database the scripts talk to, and how they connect to it.

The target is chosen in this order:

1. ``--dsn`` or the ``DWH_DSN`` environment variable: any libpq DSN or URI,
   PostgreSQL or Redshift;
2. the ``[CLUSTER]`` section of ``dwh.cfg`` (or ``--config FILE``), when it
   names a HOST;
3. the embedded PostgreSQL (embedded.py).

Passwords never leave this module: ``Target.label`` is the redacted form that
the scripts print.

A connection to ``[CLUSTER]`` is encrypted: ``sslmode=require`` by default,
or ``verify-full`` against Amazon's CA bundle when ``[CLUSTER] SSLROOTCERT``
names it (the Redshift engine refuses a connection that is not). The
connection times out after 10 seconds and is tried three times, except when
the server refused the login (trying again would not help).
"""

import configparser
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions

from sparkify.config import PASSWORD_ENV, TargetError, config_path, read_config
from sparkify.engines import embedded


@dataclass
class Target:
    dsn: str
    label: str  # what to print: never holds the password
    local: bool  # the embedded PostgreSQL
    config: configparser.ConfigParser


def choose_target(dsn=None, config_file=None, pgdata=None) -> Target:
    """Resolve the target in the documented order; start the embedded server if it is the one."""
    config = read_config(config_file)
    dsn = dsn or os.environ.get("DWH_DSN")
    if dsn:
        return Target(dsn=dsn, label=redact(dsn), local=False, config=config)
    if config.has_section("CLUSTER") and config["CLUSTER"].get("HOST", "").strip():
        dsn = cluster_dsn(config, config_path(config_file))
        return Target(dsn=dsn, label=redact(dsn), local=False, config=config)
    pgdata = Path(pgdata or embedded.DEFAULT_PGDATA)
    dsn = embedded.start(pgdata)
    label = f"embedded PostgreSQL in {embedded.describe(pgdata)} (database {embedded.DATABASE})"
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
    PostgreSQL without TLS; RedshiftEngine.check_connection() still refuses Redshift without it.
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


