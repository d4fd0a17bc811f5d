"""Which database the scripts talk to, and how they connect to it.

The target is chosen by config.target_choice(), one rule for every script: a
command-line flag wins over the environment, which wins over dwh.cfg.

1. ``--dsn`` (any libpq DSN or URI, PostgreSQL or Redshift) or ``--pgdata``
   (the embedded PostgreSQL in that folder); both at once are an error;
2. the ``DWH_DSN`` environment variable;
3. the ``[CLUSTER]`` section of the config, when it names a HOST;
4. the embedded PostgreSQL in the project's .pgdata (sparkify/engines/embedded/).

Passwords never leave this module: ``Target.label`` is the redacted form that
the scripts print.

A connection to ``[CLUSTER]`` is encrypted and checks the server's
certificate by default (``verify-full``, tls_settings()); the Redshift engine
refuses a connection that is not encrypted. Every connection sends TCP
keepalives (``KEEPALIVES``), times out after 10 seconds, and is tried three
times, except when the server refused the login (trying again would not help).
"""

import dataclasses
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions

from sparkify.config import PASSWORD_ENV, Settings, TargetError, target_choice, user_path
from sparkify.engines import embedded


@dataclass
class Target:
    dsn: str = field(repr=False)  # may hold the password
    label: str  # what to print: never holds the password
    local: bool  # the embedded PostgreSQL
    settings: Settings | None = None
    pgdata: Path | None = None  # the embedded PostgreSQL's data folder


def choose_target(settings: Settings, dsn=None, pgdata=None) -> Target:
    """The target config.target_choice() names; starts the embedded server if it is the one."""
    choice = target_choice(settings, dsn, pgdata)
    if choice.kind == "dsn":
        return Target(dsn=choice.dsn.reveal(), label=redact(choice.dsn.reveal()), local=False, settings=settings)
    if choice.kind == "cluster":
        dsn = cluster_dsn(settings)
        return Target(dsn=dsn, label=redact(dsn), local=False, settings=settings)
    folder = choice.pgdata or embedded.DEFAULT_PGDATA
    dsn = embedded.start(folder)
    label = f"embedded PostgreSQL in {embedded.describe(folder)} (database {embedded.DATABASE})"
    return Target(dsn=dsn, label=label, local=True, settings=settings, pgdata=Path(folder))


def reading_target(target: Target) -> Target:
    """``target`` reached as a role that can only read, where the project runs the server (the embedded
    PostgreSQL's embedded.READER); any other target as it is, query.py's transactions being read-only there."""
    if not target.local:
        return target
    dsn = embedded.reader_dsn(target.pgdata or embedded.DEFAULT_PGDATA)
    return dataclasses.replace(target, dsn=dsn, label=f"{target.label} as {embedded.READER}")


def cluster_dsn(settings: Settings) -> str:
    """A libpq DSN from the [CLUSTER] section; the password may come from DWH_DB_PASSWORD.

    Every missing key is named in one error.
    """
    cluster, where = settings.target, settings.where
    iam = cluster.auth == "iam"
    missing = [f"[CLUSTER] {key}" for key, value in (("HOST", cluster.host), ("DB_NAME", cluster.db_name),
                                                       ("DB_USER", cluster.db_user)) if not value
               and not (iam and key == "DB_USER")]  # IAM: the database user may be the IAM identity
    problems = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing: set "
                f"{'it' if len(missing) == 1 else 'them'} (see dwh.cfg.example)"] if missing else []
    if not iam and not cluster.password:
        problems.append(f"[CLUSTER] DB_PASSWORD is missing: export {PASSWORD_ENV}=... (better: it stays out of "
                        "the file), set it in the file (see dwh.cfg.example), or set AUTH=iam")
    if problems:
        raise TargetError(f"{where}: {'; '.join(problems)}")
    if iam:
        # No stored password: a temporary one from IAM (sparkify/aws/iam_auth.py, docs/iam-authentication.md).
        from sparkify.aws import iam_auth

        try:
            user, password = iam_auth.temporary_credentials(settings, cluster.host)
        except iam_auth.IamAuthError as error:
            raise TargetError(f"{where}: {error}") from None
    else:
        user, password = cluster.db_user, cluster.password.reveal()
    return psycopg2.extensions.make_dsn(
        host=cluster.host,
        port=str(cluster.port),
        dbname=cluster.db_name,
        user=user,
        password=password,
        **tls_settings(settings),
    )


def tls_settings(settings: Settings) -> dict:
    """libpq's TLS settings for [CLUSTER]: encrypted, and the server's certificate checked, by default.

    Empty SSLMODE is ``verify-full``: the server must show a certificate for
    its host name from a CA this machine trusts, so that nobody in between can
    take the password or the IAM temporary password. Redshift's certificates
    come from AWS Certificate Manager, "publicly trusted by most operating
    systems"
    (https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html):
    without SSLROOTCERT (or libpq's own PGSSLROOTCERT or ~/.postgresql/root.crt)
    the system's trust store is named (system_trust_store()).
    ``SSLMODE=require`` relaxes it: encrypted, the server not checked. A weaker
    SSLMODE (prefer, disable) is left to whoever writes it, for a PostgreSQL
    without TLS; RedshiftEngine.check_connection() still refuses Redshift without it.
    """
    cluster, where = settings.target, settings.where
    sslmode = cluster.sslmode or "verify-full"
    if cluster.sslrootcert:
        if not cluster.sslrootcert.is_file():
            raise TargetError(f"{where}: [CLUSTER] SSLROOTCERT {cluster.sslrootcert} not found")
        return {"sslmode": sslmode, "sslrootcert": str(cluster.sslrootcert)}
    if not sslmode.startswith("verify") or cluster.libpq_sslrootcert or user_path(LIBPQ_ROOT_CERT).exists():
        return {"sslmode": sslmode}  # libpq reads its own PGSSLROOTCERT or ~/.postgresql/root.crt
    store = system_trust_store()
    if store is None:
        raise TargetError(
            f"{where}: [CLUSTER] SSLMODE={sslmode} checks the server's certificate, but this machine has "
            "no CA certificates to check it with: download Amazon's CA bundle, "
            "https://s3.amazonaws.com/redshift-downloads/amazon-trust-ca-bundle.crt, and set [CLUSTER] "
            "SSLROOTCERT to its path (or SSLMODE=require: encrypted, the server not checked)"
        )
    return {"sslmode": sslmode, "sslrootcert": store}


LIBPQ_ROOT_CERT = Path("~/.postgresql/root.crt")  # where libpq looks without sslrootcert


def system_trust_store() -> str | None:
    """The file of the system's CA certificates, as this Python finds it (SSL_CERT_FILE, else its
    OpenSSL's default); None when there is none.

    psycopg2-binary's libpq brings an OpenSSL of its own, built elsewhere, that
    does not know where this system keeps its certificates
    (``sslrootcert=system`` would look in the wrong place): the file is named.
    """
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and Path(cafile).is_file() else None


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

# A firewall or a NAT between here and Redshift drops a connection that has
# been silent for a while, and a COPY or a transform of many minutes is
# silent: the client then waits for an answer that never comes, while the
# server's transaction keeps its LOCK and every later run waits behind it.
# AWS's remedy is TCP keepalives, with these figures: a probe after 200 s of
# silence, then every 200 s, the connection given up after 5 unanswered
# (https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-firewall-guidance.html).
# libpq sets them on the socket; a DSN that sets any of them keeps its own.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 200, "keepalives_interval": 200, "keepalives_count": 5}


def connect(target: Target, attempts: int = 3, timeout: int = 10, application: str = "sparkify-etl"):
    """Connect, with TCP keepalives, retrying a failed attempt a couple of times with a growing pause.

    ``application``: the session's application_name, which the database shows
    to other sessions (and to a lock wait's report, engines/lock_wait.py):
    ``sparkify-etl`` for etl.py, ``sparkify-create_tables``, ``sparkify-query``
    and ``sparkify-doctor`` for the other scripts, ``sparkify-lock-watch`` for
    the connection that watches a command's lock waits.
    """
    for attempt in range(1, attempts + 1):
        try:
            given = psycopg2.extensions.parse_dsn(target.dsn)
            keepalives = {key: value for key, value in KEEPALIVES.items() if key not in given}
            return psycopg2.connect(
                target.dsn, connect_timeout=timeout, application_name=application, **keepalives
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


