"""The only reader and writer of dwh.cfg, and of the environment variables that stand in for it.

    settings = load_settings()        # dwh.cfg, or --config FILE / $DWH_CONFIG; every bad key named at once
    settings.target.host, settings.source.log_data, settings.redshift.iam_role, settings.aws.provisioning
    where = source_locations(settings, "s3://my-bucket/sparkify")
    write_keys(settings.path, {"CLUSTER": {"HOST": endpoint}})   # what cluster.py create writes back

Everything else in the package receives the frozen ``Settings`` that
``load_settings()`` returns; nothing else opens dwh.cfg or reads these variables:

- ``DWH_CONFIG``: the config file (``--config FILE`` wins over it);
- ``DWH_DSN``: a libpq DSN that stands in for ``[CLUSTER]`` (``--dsn`` wins);
- ``DWH_DB_PASSWORD``: wins over ``[CLUSTER] DB_PASSWORD``;
- ``DWH_DEPLOYMENT``: wins over ``[DWH] DEPLOYMENT``;
- ``DWH_LOCK_TIMEOUT``: wins over ``[RUN] LOCK_TIMEOUT`` (``--lock-timeout`` wins over both);
- ``DWH_EMBEDDED_USER``: the existing user the embedded PostgreSQL runs as when the scripts run as root
  (embedded_user(); read before any settings, since the server starts first);
- ``PGSSLROOTCERT`` (libpq's CA bundle) and ``AWS_ENDPOINT_URL`` (boto3's
  endpoint), which their libraries read themselves: read here only to say
  what they will do; ``AWS_ACCESS_KEY_ID`` and ``AWS_PROFILE``, only to
  refuse ``[AWS] KEY``/``SECRET`` beside them (the file's keys would win
  over the variable, against the rule below).

The rule for everything a person can name twice: a command-line flag wins
over an environment variable, which wins over dwh.cfg, which wins over the
default. A config named by a flag or a variable is read, or is an error: it
never falls back to dwh.cfg. ``target_choice()`` applies the rule to the
target (docs/aws.md#where-the-sql-goes).

``dwh.cfg.example`` documents every key. A value of the wrong form is one
line naming its key; nothing here prints a secret, and a ``Secret`` shows as
``***`` in any message or repr.
"""

import configparser
import difflib
import ipaddress
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sparkify.atomic import replace_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "dwh.cfg"
DEFAULT_SOURCE = PROJECT_DIR / "data" / "sample"
CONFIG_ENV = "DWH_CONFIG"
DSN_ENV = "DWH_DSN"
PASSWORD_ENV = "DWH_DB_PASSWORD"
DEPLOYMENT_ENV = "DWH_DEPLOYMENT"
LOCK_TIMEOUT_ENV = "DWH_LOCK_TIMEOUT"
EMBEDDED_USER_ENV = "DWH_EMBEDDED_USER"
MAX_REDSHIFT_ERRORS = 100_000  # the largest MAXERROR that COPY accepts
EXAMPLE = "see dwh.cfg.example"


class TargetError(Exception):
    """A problem with the configuration or the connection, worded for a person (exit status 2)."""


class Secret:
    """A password, key or DSN: ``***`` wherever it is printed; ``reveal()`` gives the value to who needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name, value):
        raise AttributeError("a Secret cannot be changed")

    def __repr__(self):
        return "***"

    __str__ = __repr__

    def __format__(self, spec):
        return "***"

    def __eq__(self, other):
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self):
        return hash(self._value)

    def __bool__(self):
        return bool(self._value)


# ---------------------------------------------------------------------------
# The settings object
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSettings:
    """[CLUSTER], and $DWH_DSN: the database the scripts connect to."""

    dsn: Secret | None = None  # $DWH_DSN
    host: str | None = None
    port: int = 5439
    db_name: str | None = None
    db_user: str | None = None
    password: Secret | None = None  # $DWH_DB_PASSWORD, else [CLUSTER] DB_PASSWORD
    auth: str = "password"  # or "iam": a temporary password from AWS (aws/iam_auth.py)
    sslmode: str | None = None
    sslrootcert: Path | None = None
    libpq_sslrootcert: str | None = None  # $PGSSLROOTCERT, which libpq reads itself


@dataclass(frozen=True)
class SourceSettings:
    """[S3]: where Redshift's COPY reads, and how this machine reads S3."""

    log_data: str | None = None  # an s3:// prefix ending in "/"
    song_data: str | None = None  # likewise
    log_jsonpath: str | None = None  # an s3:// object: the JSONPaths file
    region: str | None = None  # COPY's REGION; None: no REGION clause
    endpoint_url: str | None = None  # an S3-compatible store for the local loader
    manifest_prefix: str | None = None  # an s3:// prefix ending in "/": a daily run's manifests


@dataclass(frozen=True)
class RedshiftSettings:
    """[IAM_ROLE] ARN, and the [DWH] keys that say which warehouse it is and where."""

    iam_role: str | None = None
    deployment: str = "provisioned"  # or "serverless"; $DWH_DEPLOYMENT wins over [DWH] DEPLOYMENT
    region: str | None = None  # [DWH] REGION: the cluster's or the workgroup's
    cluster_identifier: str | None = None  # as written; None when not set
    namespace_name: str | None = None
    workgroup_name: str | None = None

    @property
    def serverless(self) -> bool:
        return self.deployment == "serverless"

    @property
    def identifier(self) -> str:
        """The cluster's name: CLUSTER_IDENTIFIER, else sparkify."""
        return self.cluster_identifier or "sparkify"

    @property
    def namespace(self) -> str:
        return self.namespace_name or self.identifier

    @property
    def workgroup(self) -> str:
        return self.workgroup_name or self.identifier


@dataclass(frozen=True)
class RunSettings:
    """[RUN]: how the scripts behave beside other sessions of the database."""

    lock_timeout: float | None = None  # seconds a statement may wait for a lock (0: no limit); None: not set
    lock_timeout_named_by: str | None = None  # "$DWH_LOCK_TIMEOUT" or "[RUN] LOCK_TIMEOUT", when set


@dataclass(frozen=True)
class Provisioning:
    """[DWH]: what ``cluster.py create`` makes and how it may be reached."""

    node_type: str | None = None  # None: the smallest RA3 node for ``nodes`` (aws/provisioned.py)
    nodes: int = 1
    publicly_accessible: bool = False
    ingress_cidr: str | None = None
    allow_any_address: bool = False
    role_name: str = "sparkify-redshift-s3-read"
    security_group_name: str = "sparkify-redshift"
    owner: str | None = None
    ttl_hours: float = 4.0
    base_rpus: int = 8
    max_rpus: int | None = None  # None: the base capacity (see max_capacity)
    usage_limit_rpu_hours: int = 16
    usage_limit_action: str = "deactivate"

    @property
    def max_capacity(self) -> int:
        """The most RPUs the workgroup may scale to: MAX_CAPACITY_RPUS, else its base capacity."""
        return self.max_rpus or self.base_rpus


@dataclass(frozen=True)
class AwsSettings:
    """[AWS] and the provisioning of [DWH]. Credentials: boto3's default chain unless KEY and SECRET are set."""

    key: Secret | None = None
    secret: Secret | None = None
    endpoint_url: str | None = None  # $AWS_ENDPOINT_URL, which boto3 reads itself
    provisioning: Provisioning = field(default_factory=Provisioning)


@dataclass(frozen=True)
class Settings:
    """The whole configuration, typed and checked: what every module receives."""

    path: Path | None = None  # the file read; None: none was (the defaults)
    named_by: str = "default"  # "--config", "$DWH_CONFIG" or "default": who named the file
    sections: frozenset = frozenset()  # the sections the file has (cluster.py needs a [DWH] of its own)
    target: TargetSettings = field(default_factory=TargetSettings)
    source: SourceSettings = field(default_factory=SourceSettings)
    redshift: RedshiftSettings = field(default_factory=RedshiftSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    run: RunSettings = field(default_factory=RunSettings)

    @property
    def where(self) -> str:
        """How to name the config in a message: its path, or that there is none."""
        return str(self.path) if self.path is not None else "the config"

    def with_deployment(self, deployment: str | None) -> "Settings":
        """These settings for ``deployment`` ("provisioned" or "serverless"; None: as they are)."""
        if not deployment:
            return self
        value = deployment.strip().lower()
        if value not in DEPLOYMENTS:
            raise TargetError(f"the deployment must be provisioned or serverless, not {deployment!r}")
        return replace(self, redshift=replace(self.redshift, deployment=value))

    def missing(self, keys) -> list[str]:
        """Which of ``keys`` ((section, key) pairs) have no value here, as "[SECTION] KEY"."""
        return [f"[{section}] {key}" for section, key in keys if value_of(self, section, key) in (None, "")]

    def require(self, keys, hint="") -> None:
        """Every one of ``keys`` that is missing, named in one TargetError."""
        missing = self.missing(keys)
        if missing:
            raise TargetError(f"the config has no {', '.join(missing)}: set {'it' if len(missing) == 1 else 'them'} "
                              f"({EXAMPLE}){hint}")


# ---------------------------------------------------------------------------
# The keys: where each goes and what form it must have
# ---------------------------------------------------------------------------

DEPLOYMENTS = ("provisioned", "serverless")
USAGE_LIMIT_ACTIONS = ("deactivate", "log")  # CreateUsageLimit's breachAction (emit-metric: nothing reads it)
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
YES, NO = ("yes", "true", "on", "1"), ("no", "false", "off", "0")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CLUSTER_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")  # CreateCluster's ClusterIdentifier rules
SERVERLESS_NAME = re.compile(r"^[a-z0-9-]{3,64}$")  # CreateNamespace / CreateWorkgroup
IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")  # IAM role names
NODE_TYPE = re.compile(r"^[a-z0-9]+\.[a-z0-9]+$")
PLACEHOLDER = re.compile(r"<\[[A-Z0-9_]+\] [A-Z0-9_]+>")


class Malformed(ValueError):
    """A value of the wrong form: the message says what the form is."""


class HoldsCredentials(Malformed):
    """A location with a key in it: the message shows it with the key hidden, and the value is never quoted."""


_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)  # scheme, authority, the rest
_PLAIN_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]+)?(/[^@:]*)?")  # a bucket or host, a path: no secret


def credentials_check(location: str) -> None:
    """HoldsCredentials if ``location`` holds credentials (``s3://KEY:SECRET@bucket``), else nothing.

    boto3 never reads credentials from a URL, and a COPY statement would carry
    them to Redshift's query log: a key there is a mistake, so it is refused
    where a location enters the program (the [S3] keys, ENDPOINT_URL,
    $AWS_ENDPOINT_URL, --source), before any message, --json, dry run or
    ledger can show it. An S3 bucket name can hold neither ``@`` nor ``:``,
    so an S3 authority with either is taken as credentials too (a secret key
    may hold ``/``, which ends the authority). The message shows what follows
    the last ``@`` only when it is a plain bucket or host name.
    """
    match = _URL.fullmatch(location.strip()) if isinstance(location, str) else None
    if match is None:
        return
    scheme, authority, rest = match.groups()
    if "@" in authority or (":" in authority and (scheme.lower() == "s3" or "@" in rest)):
        after = location.strip().rsplit("@", 1)[1] if "@" in location else ""
        shown = f"{scheme}://***@{after}" if _PLAIN_HOST.fullmatch(after) else f"{scheme}://***"
        raise HoldsCredentials(
            f"{shown} holds credentials before the bucket name: remove them (a location never takes any: they "
            "would be printed and logged); give AWS credentials with `aws configure` or AWS_PROFILE instead, "
            "and replace the key if others may have seen it"
        )


def without_credentials(location: str, what: str) -> str:
    """``location`` as given, or a TargetError naming ``what`` (``--source``) if it holds credentials."""
    try:
        credentials_check(location)
    except HoldsCredentials as error:
        raise TargetError(f"{what} {error}") from None
    return location


def _text(value):
    return value


def _integer(low=None, high=None, form="a whole number"):
    def parse(value):
        if not re.fullmatch(r"[+]?\d+", value):
            raise Malformed(f"must be {form}")
        number = int(value)
        if low is not None and number < low or high is not None and number > high:
            raise Malformed(f"must be between {low} and {high}" if high is not None else f"must be {low} or more")
        return number
    return parse


def _seconds(value):
    """A lock timeout: a number of seconds, 0 or more (0: no limit)."""
    try:
        number = float(value)
    except ValueError:
        raise Malformed("must be a number of seconds (0: no limit)") from None
    if not number >= 0 or number == float("inf"):
        raise Malformed("must be a number of seconds, 0 or more (0: no limit)")
    return number


def _positive_number(value):
    try:
        number = float(value)
    except ValueError:
        raise Malformed("must be a number") from None
    if not number > 0 or number != number or number == float("inf"):
        raise Malformed("must be a number above 0")
    return number


def _boolean(value):
    if value.lower() in YES:
        return True
    if value.lower() in NO:
        return False
    raise Malformed("must be yes or no")


def _choice(options, meaning=""):
    def parse(value):
        if value.lower() not in options:
            raise Malformed(f"must be {' or '.join(options) if len(options) < 3 else 'one of ' + ', '.join(options)}"
                            f"{meaning}")
        return value.lower()
    return parse


def _matching(pattern, form):
    def parse(value):
        if not pattern.fullmatch(value):
            raise Malformed(f"must be {form}")
        return value
    return parse


def _host(value):
    if "://" in value or any(character.isspace() for character in value) or ("/" in value
                                                                             and not value.startswith("/")):
        raise Malformed("must be a host name or an address (e.g. sparkify.abc123.us-west-2.redshift.amazonaws.com), "
                        "not a URL")
    return value


def _url(value):
    credentials_check(value)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise Malformed("must be an http:// or https:// URL (e.g. http://127.0.0.1:9000)")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise Malformed("must be an http:// or https:// URL with a numeric port") from None
    return value


def _s3(prefix: bool):
    form = "an s3:// prefix (s3://bucket/folder)" if prefix else "the s3:// URL of a file (s3://bucket/file.json)"

    def parse(value):
        credentials_check(value)
        bucket, _, key = value.removeprefix("s3://").partition("/")
        if (not value.startswith("s3://") or not BUCKET.fullmatch(bucket)
                or any(not character.isprintable() for character in key)):
            raise Malformed(f"must be {form}")
        if not prefix:
            if not key or key.endswith("/"):
                raise Malformed(f"must be {form}")
            return value
        return value if value.endswith("/") else value + "/"  # COPY's prefix match: log_data/ is not log_data_1/
    return parse


def _cidr(value):
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise Malformed("must be an address or a network (e.g. 203.0.113.7/32)") from None


def user_path(text) -> Path:
    """A path as a user wrote it, ``~`` and ``~user`` expanded as the shell expands them.

    Path.expanduser() raises RuntimeError on ``~user`` naming no user of this
    machine, and on ``~`` with neither $HOME nor an entry in the password
    database (a container's uid); the shell keeps such a path as written, and
    so does this, so that whatever reads the path next says in one line that it
    is not there.
    """
    return Path(os.path.expanduser(text))


# (section, key) -> (the part of Settings it goes to, its field there, what checks and converts its text).
KEYS: dict[tuple[str, str], tuple[str, str, Callable]] = {
    ("CLUSTER", "HOST"): ("target", "host", _host),
    ("CLUSTER", "DB_NAME"): ("target", "db_name", _text),
    ("CLUSTER", "DB_USER"): ("target", "db_user", _text),
    ("CLUSTER", "DB_PASSWORD"): ("target", "password", Secret),
    ("CLUSTER", "DB_PORT"): ("target", "port", _integer(1, 65535, "a port number (1 to 65535)")),
    ("CLUSTER", "AUTH"): ("target", "auth", _choice(("password", "iam"))),
    ("CLUSTER", "SSLMODE"): ("target", "sslmode", _choice(SSLMODES)),
    ("CLUSTER", "SSLROOTCERT"): ("target", "sslrootcert", user_path),
    ("IAM_ROLE", "ARN"): ("redshift", "iam_role",
                          _matching(ROLE_ARN, "the ARN of an IAM role (arn:aws:iam::123456789012:role/name)")),
    ("S3", "LOG_DATA"): ("source", "log_data", _s3(prefix=True)),
    ("S3", "SONG_DATA"): ("source", "song_data", _s3(prefix=True)),
    ("S3", "LOG_JSONPATH"): ("source", "log_jsonpath", _s3(prefix=False)),
    ("S3", "REGION"): ("source", "region", _matching(REGION, "an AWS region (e.g. us-west-2)")),
    ("S3", "MANIFEST_PREFIX"): ("source", "manifest_prefix", _s3(prefix=True)),
    ("S3", "ENDPOINT_URL"): ("source", "endpoint_url", _url),
    ("DWH", "DEPLOYMENT"): ("redshift", "deployment", _choice(DEPLOYMENTS)),
    ("DWH", "REGION"): ("redshift", "region", _matching(REGION, "an AWS region (e.g. us-west-2)")),
    ("DWH", "CLUSTER_IDENTIFIER"): ("redshift", "cluster_identifier", _matching(
        CLUSTER_NAME, "a cluster name: 1 to 63 lower-case letters, digits and single hyphens, starting with a "
        "letter")),
    ("DWH", "NAMESPACE"): ("redshift", "namespace_name", _matching(
        SERVERLESS_NAME, "3 to 64 lower-case letters, digits and hyphens")),
    ("DWH", "WORKGROUP"): ("redshift", "workgroup_name", _matching(
        SERVERLESS_NAME, "3 to 64 lower-case letters, digits and hyphens")),
    ("DWH", "NODE_TYPE"): ("provisioning", "node_type", _matching(NODE_TYPE, "a node type (e.g. ra3.xlplus)")),
    ("DWH", "NUM_NODES"): ("provisioning", "nodes", _integer(1, 128)),
    ("DWH", "PUBLICLY_ACCESSIBLE"): ("provisioning", "publicly_accessible", _boolean),
    ("DWH", "INGRESS_CIDR"): ("provisioning", "ingress_cidr", _cidr),
    ("DWH", "ALLOW_ANY_ADDRESS"): ("provisioning", "allow_any_address", _boolean),
    ("DWH", "IAM_ROLE_NAME"): ("provisioning", "role_name", _matching(
        IAM_NAME, "an IAM role name: 1 to 64 letters, digits and +=,.@_-")),
    ("DWH", "SECURITY_GROUP_NAME"): ("provisioning", "security_group_name", _matching(
        re.compile(r"^[\w .:/()#,@\[\]+=&;{}!$*-]{1,255}$"), "a security group name (1 to 255 characters)")),
    ("DWH", "OWNER"): ("provisioning", "owner", _text),
    ("DWH", "TIME_TO_LIVE_HOURS"): ("provisioning", "ttl_hours", _positive_number),
    ("DWH", "BASE_CAPACITY_RPUS"): ("provisioning", "base_rpus", _integer()),
    ("DWH", "MAX_CAPACITY_RPUS"): ("provisioning", "max_rpus", _integer()),
    ("DWH", "USAGE_LIMIT_RPU_HOURS"): ("provisioning", "usage_limit_rpu_hours", _integer(1)),
    ("DWH", "USAGE_LIMIT_ACTION"): ("provisioning", "usage_limit_action", _choice(
        USAGE_LIMIT_ACTIONS, " (deactivate: user queries are turned off until the next day; log: only recorded)")),
    ("RUN", "LOCK_TIMEOUT"): ("run", "lock_timeout", _seconds),
    ("AWS", "KEY"): ("aws", "key", Secret),
    ("AWS", "SECRET"): ("aws", "secret", Secret),
}
SECRET_KEYS = {key for key, (_, _, parse) in KEYS.items() if parse is Secret}
ENVIRONMENT = {  # variable -> the key it stands in for
    DSN_ENV: None,
    PASSWORD_ENV: ("CLUSTER", "DB_PASSWORD"),
    DEPLOYMENT_ENV: ("DWH", "DEPLOYMENT"),
    LOCK_TIMEOUT_ENV: ("RUN", "LOCK_TIMEOUT"),
}
AWS_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")  # boto3's, which [AWS] KEY/SECRET would overrule
GROUPS = {"target": TargetSettings, "source": SourceSettings, "redshift": RedshiftSettings,
          "provisioning": Provisioning, "aws": AwsSettings, "run": RunSettings}


def value_of(settings: Settings, section: str, key: str):
    """The typed value of ``[section] key`` in ``settings``."""
    group, name, _ = KEYS[(section, key)]
    holder = settings.aws.provisioning if group == "provisioning" else getattr(settings, group)
    return getattr(holder, name)


def placeholder(section: str, key: str) -> str:
    """What a dry run shows for a key the config does not set: ``<[IAM_ROLE] ARN>``."""
    return f"<[{section}] {key}>"


def is_placeholder(value) -> bool:
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value) is not None


def with_placeholders(settings: Settings, keys) -> tuple[Settings, list[str]]:
    """(``settings`` with a placeholder for each of ``keys`` that has no value, those keys as "[SECTION] KEY").

    For a dry run, which connects to nothing: it shows where a value goes,
    and a run still refuses a config without it (Settings.require).
    """
    missing = [(section, key) for section, key in keys if value_of(settings, section, key) in (None, "")]
    for section, key in missing:
        group, name, _ = KEYS[(section, key)]
        if group not in ("source", "redshift"):
            raise ValueError(f"[{section}] {key}: only the source's and Redshift's keys have placeholders")
        settings = replace(settings, **{group: replace(getattr(settings, group), **{name: placeholder(section, key)})})
    return settings, [f"[{section}] {key}" for section, key in missing]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def config_path(config_file=None, environ: Mapping | None = None) -> tuple[Path, str]:
    """(the config file, who named it): ``--config FILE``, else $DWH_CONFIG, else dwh.cfg."""
    environ = os.environ if environ is None else environ
    if config_file is not None:
        if not str(config_file).strip():
            raise TargetError("--config names no file: give the path of a copy of dwh.cfg.example")
        return user_path(config_file), "--config"
    if CONFIG_ENV in environ:
        if not environ[CONFIG_ENV].strip():
            raise TargetError(f"${CONFIG_ENV} is set but empty: unset it to use {DEFAULT_CONFIG.name}, or give it "
                              "the path of a copy of dwh.cfg.example")
        return user_path(environ[CONFIG_ENV]), f"${CONFIG_ENV}"
    return DEFAULT_CONFIG, "default"


def load_settings(config_file=None, environ: Mapping | None = None) -> Settings:
    """The settings of ``--config FILE`` (or $DWH_CONFIG, or dwh.cfg) and of the environment.

    Only the default dwh.cfg may be missing (then every key has its
    default); a file named by the flag or the variable is read or is an error.
    """
    environ = os.environ if environ is None else environ
    path, named_by = config_path(config_file, environ)
    if named_by == "default" and not path.exists():
        return parse({}, environ, None, named_by)
    return parse(read_file(path, named_by), environ, path, named_by)


def read_file(path: Path, named_by: str = "--config") -> dict[str, dict[str, str]]:
    """{section: {KEY: value}} of an INI file, or a TargetError that says where it is malformed."""
    if not path.exists():
        raise TargetError(f"config file {path} ({named_by}) not found: copy dwh.cfg.example to {path} and fill it in")
    if not path.is_file():
        raise TargetError(f"config file {path} ({named_by}) is not a file: give the path of a copy of "
                          "dwh.cfg.example")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not the first line's text
    except UnicodeDecodeError as error:
        raise TargetError(f"{path}: byte {error.start} is not UTF-8 text: compare it with dwh.cfg.example") from None
    except OSError as error:
        raise TargetError(f"{path}: cannot be read ({error.strerror})") from None
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as error:
        raise TargetError(f"{path}: {parse_problem(error)}: compare it with dwh.cfg.example") from None
    sections = {name: dict(parser[name]) for name in parser.sections()}
    warn_if_others_can_read(path, sections)
    warn_about_unknown_keys(path, sections)
    return sections


def parse_problem(error: configparser.Error) -> str:
    """Where the config file is malformed, without quoting the line: it may hold a password."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [SECTION] header"
    if isinstance(error, configparser.ParsingError):
        return f"line {error.errors[0][0]} is not KEY=value"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"[{error.section}] {error.option.upper()} is set twice (line {error.lineno})"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"[{error.section}] appears twice (line {error.lineno})"
    return f"it cannot be read ({type(error).__name__})"


def embedded_user(environ: Mapping | None = None) -> str | None:
    """$DWH_EMBEDDED_USER without surrounding blanks, or None when it is not set or empty."""
    environ = os.environ if environ is None else environ
    return environ.get(EMBEDDED_USER_ENV, "").strip() or None


def environment_deployment(environ: Mapping | None = None) -> str | None:
    """$DWH_DEPLOYMENT, checked as load_settings() checks it, or None when it is not set."""
    environ = os.environ if environ is None else environ
    if DEPLOYMENT_ENV not in environ:
        return None
    return parse({}, {DEPLOYMENT_ENV: environ[DEPLOYMENT_ENV]}).redshift.deployment


def parse(sections: Mapping, environ: Mapping | None = None, path: Path | None = None,
          named_by: str = "default") -> Settings:
    """Settings from {section: {KEY: value}} and the environment: every malformed value named in one error.

    ``environ`` defaults to none at all, so that settings built by hand (tests,
    a notebook) do not depend on the shell they run in; ``load_settings()`` passes
    ``os.environ``.
    """
    environ = {} if environ is None else environ
    values: dict[str, dict] = {group: {} for group in GROUPS}
    problems = []
    raw = {(section, key.upper()): str(value).strip() for section, keys in sections.items()
           for key, value in keys.items()}
    for variable, key in ENVIRONMENT.items():
        if variable not in environ:
            continue
        if not environ[variable].strip():
            problems.append(f"${variable} is set but empty: unset it, or give it a value")
        elif key is not None:
            raw[key] = environ[variable].strip()
    for (section, key), (group, name, convert) in KEYS.items():
        text = raw.get((section, key), "")
        if not text:
            continue
        origin = next((f"${variable}" for variable, stands in ENVIRONMENT.items()
                       if stands == (section, key) and variable in environ), f"[{section}] {key}")
        if "\x00" in text:  # no path, host, name or secret holds one, and the OS and libpq refuse it with a traceback
            problems.append(f"{origin} holds a NUL character, which no setting can: is the file damaged or binary?")
            continue
        try:
            values[group][name] = convert(text)
        except Malformed as error:
            shown = "" if (section, key) in SECRET_KEYS or isinstance(error, HoldsCredentials) else f", not {text!r}"
            problems.append(f"{origin} {error}{shown}")
    if environ.get(DSN_ENV, "").strip():
        values["target"]["dsn"] = Secret(environ[DSN_ENV].strip())
    if environ.get("PGSSLROOTCERT", "").strip():
        values["target"]["libpq_sslrootcert"] = environ["PGSSLROOTCERT"].strip()
    if environ.get("AWS_ENDPOINT_URL", "").strip():
        try:
            values["aws"]["endpoint_url"] = without_credentials(environ["AWS_ENDPOINT_URL"].strip(),
                                                                "$AWS_ENDPOINT_URL")
        except TargetError as error:
            problems.append(str(error))
    problems += cross_checks(values)
    if values["aws"].get("key") and values["aws"].get("secret"):
        named = [variable for variable in AWS_CREDENTIAL_VARIABLES if environ.get(variable, "").strip()]
        if named:
            problems.append(f"[AWS] KEY and SECRET, and ${', $'.join(named)}, both name AWS credentials: keep one "
                            "(better: the variable, and [AWS] left empty)")
    if problems:
        where = f"{path}: " if path is not None else ""
        raise TargetError(f"{where}{'; '.join(problems)} ({EXAMPLE})")
    provisioning = Provisioning(**values.pop("provisioning"))
    if "lock_timeout" in values["run"]:
        values["run"]["lock_timeout_named_by"] = f"${LOCK_TIMEOUT_ENV}" if LOCK_TIMEOUT_ENV in environ \
            else "[RUN] LOCK_TIMEOUT"
    return Settings(
        path=path, named_by=named_by, sections=frozenset(sections),
        target=TargetSettings(**values["target"]),
        source=SourceSettings(**values["source"]),
        redshift=RedshiftSettings(**values["redshift"]),
        aws=AwsSettings(**values["aws"], provisioning=provisioning),
        run=RunSettings(**values["run"]),
    )


def cross_checks(values: dict) -> list[str]:
    """What no one key shows: keys that only work together."""
    problems = []
    aws = values["aws"]
    if bool(aws.get("key")) != bool(aws.get("secret")):
        have, lack = ("KEY", "SECRET") if aws.get("key") else ("SECRET", "KEY")
        problems.append(f"[AWS] {have} is set but {lack} is empty: set both, or neither (boto3 then finds your "
                        "credentials: AWS_PROFILE, `aws sso login`)")
    provisioning = values["provisioning"]
    region = values["redshift"].get("region")
    base = provisioning.get("base_rpus")
    if base is not None:
        problem = rpu_problem(base, region)
        if problem:
            problems.append(f"[DWH] BASE_CAPACITY_RPUS {problem}")
    most = provisioning.get("max_rpus")
    if most is not None:
        problem = rpu_problem(most, None, upper=None)
        if problem is None and most < (base or Provisioning.base_rpus):
            problem = f"must be at least the base capacity, {base or Provisioning.base_rpus}, not {most}"
        if problem:
            problems.append(f"[DWH] MAX_CAPACITY_RPUS {problem}")
    return problems


# Redshift Serverless capacity, from "Compute capacity for Amazon Redshift Serverless"
# (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html): a base capacity of 4 RPUs, or 8 to
# 512 in steps of 8; 512 to 1024 in steps of 32, where 1024 is offered (five regions; 512 elsewhere).
RPU_STEPS = ((4, 4, 4), (8, 512, 8), (544, 1024, 32))
LARGE_BASE_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1")


def rpu_problem(rpus: int, region: str | None, upper: int | None = 1024) -> str | None:
    """Why ``rpus`` is not a capacity Redshift Serverless accepts, or None.

    ``upper``: the largest base capacity (1024, or 512 outside the five
    regions that offer more); None for a maximum capacity, whose ceiling AWS
    checks itself (the steps are the same).
    """
    if upper is not None and region is not None and region not in LARGE_BASE_REGIONS:
        upper = 512
    fits = any(low <= rpus <= high and (rpus - low) % step == 0 for low, high, step in RPU_STEPS) or (
        upper is None and rpus > 1024 and rpus % 32 == 0)
    if fits and (upper is None or rpus <= upper):
        return None
    if upper == 512:
        rule = f"must be 4, or 8 to 512 in steps of 8 (512 is the most {region} offers)"
    elif upper is None:
        rule = "must be 4, or 8 to 512 in steps of 8, or above 512 in steps of 32"
    else:
        rule = "must be 4, or 8 to 512 in steps of 8, or 512 to 1024 in steps of 32"
    return f"{rule} (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html), not {rpus}"


# ---------------------------------------------------------------------------
# Warnings about the file
# ---------------------------------------------------------------------------

_warned: set = set()


def warn_if_others_can_read(path: Path, sections: dict) -> None:
    """Warn, once, when a config that holds a password or an AWS key can be read by other users.

    A config without secrets (the password in DWH_DB_PASSWORD, the keys found
    by boto3) is harmless to share, so it gets no warning.
    """
    mode = path.stat().st_mode & 0o777
    if not mode & 0o044 or ("mode", path) in _warned:
        return
    if any(sections.get(section, {}).get(key, "").strip() for section, key in SECRET_KEYS):
        _warned.add(("mode", path))
        print(
            f"warning: {path} holds a password or an AWS key and other users can read it "
            f"(mode {mode:o}): run chmod 600 {path}, or move the secret to {PASSWORD_ENV} / your AWS profile",
            file=sys.stderr,
        )


def warn_about_unknown_keys(path: Path, sections: dict) -> None:
    """Warn, once, about a section or key this project does not read: a typo would otherwise be ignored."""
    known_sections = {section for section, _ in KEYS}
    unknown = []
    for section, keys in sections.items():
        if section not in known_sections:
            near = difflib.get_close_matches(section.upper(), known_sections, n=1)
            unknown.append(f"[{section}]" + (f" (did you mean [{near[0]}]?)" if near else ""))
            continue
        known = [key for name, key in KEYS if name == section]
        for key in keys:
            if key.upper() not in known:
                near = difflib.get_close_matches(key.upper(), known, n=1)
                unknown.append(f"[{section}] {key}" + (f" (did you mean {near[0]}?)" if near else ""))
    if unknown and ("unknown", path) not in _warned:
        _warned.add(("unknown", path))
        print(f"warning: {path}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not read by "
              f"anything here, and so ignored ({EXAMPLE} lists every key)", file=sys.stderr)


# ---------------------------------------------------------------------------
# Where the SQL goes: one rule for --dsn, --pgdata, $DWH_DSN and [CLUSTER] HOST
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetChoice:
    """Which database the scripts talk to, and who named it (for the messages)."""

    kind: str  # "dsn", "cluster" (the [CLUSTER] section) or "embedded"
    named_by: str  # "--dsn", "$DWH_DSN", "[CLUSTER] HOST", "--pgdata" or "default"
    dsn: Secret | None = None
    pgdata: Path | None = None  # for "embedded"; None: the project's .pgdata


def target_choice(settings: Settings, dsn=None, pgdata=None) -> TargetChoice:
    """The target, by the rule: a flag wins over the environment, which wins over dwh.cfg.

    1. ``--dsn`` or ``--pgdata`` (both at once name two targets: an error);
    2. ``$DWH_DSN``;
    3. ``[CLUSTER] HOST`` of the config;
    4. the embedded PostgreSQL in the project's .pgdata.
    """
    if dsn is not None and pgdata is not None:
        raise TargetError("--dsn and --pgdata name two targets (the server of the DSN, and the embedded "
                          f"PostgreSQL in {pgdata}): give one")
    if dsn is not None:
        if not str(dsn).strip():
            raise TargetError("--dsn is empty: give a libpq DSN or URI, or leave the flag out")
        return TargetChoice("dsn", "--dsn", dsn=Secret(str(dsn).strip()))
    if pgdata is not None:
        if not str(pgdata).strip():
            raise TargetError("--pgdata is empty: give the data folder of the embedded PostgreSQL")
        return TargetChoice("embedded", "--pgdata", pgdata=user_path(pgdata))
    if settings.target.dsn:
        return TargetChoice("dsn", f"${DSN_ENV}", dsn=settings.target.dsn)
    if settings.target.host:
        return TargetChoice("cluster", "[CLUSTER] HOST")
    return TargetChoice("embedded", "default")


# ---------------------------------------------------------------------------
# Where the source is
# ---------------------------------------------------------------------------


def is_s3(location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


@dataclass(frozen=True)
class SourceLocations:
    """Where the source is: its three parts, and the folder that holds them when there is one."""

    log_data: str
    song_data: str
    log_jsonpath: str
    root: str | None  # a folder or s3:// prefix holding all three; None for [S3] paths that share none

    @property
    def in_s3(self) -> bool:
        return is_s3(self.log_data) or is_placeholder(self.log_data)  # a dry run's placeholder stands for S3


def locations_below(root) -> SourceLocations:
    if is_s3(str(root)):
        base = str(root).rstrip("/")
        return SourceLocations(f"{base}/log_data/", f"{base}/song_data/", f"{base}/log_json_path.json", base)
    root = Path(root)
    return SourceLocations(str(root / "log_data"), str(root / "song_data"), str(root / "log_json_path.json"),
                           str(root))


S3_PATHS = (("S3", "LOG_DATA"), ("S3", "SONG_DATA"), ("S3", "LOG_JSONPATH"))


def source_locations(settings: Settings, source=None, default=None, required=()) -> SourceLocations:
    """``--source``, else ``default`` (the bundled sample, for a local run), else the [S3] paths.

    [S3] LOG_DATA and SONG_DATA that are ``log_data/`` and ``song_data/`` of
    one folder give that folder as the root, which a daily run lists.
    ``required``: (section, key) pairs the engine needs besides; every missing
    one is named in one error, so that one run tells the user all there is to set.
    """
    if source:  # before anything else: nothing may show it
        source = without_credentials(str(source), "--source")
    given = source or default
    keys = ([] if given else list(S3_PATHS)) + list(required)
    settings.require(keys, hint="" if given or not settings.missing(S3_PATHS) else ", or give --source s3://...")
    if given:
        return locations_below(given)
    paths = settings.source
    root = paths.log_data.rstrip("/").rsplit("/", 1)[0]
    shared = paths.log_data == f"{root}/log_data/" and paths.song_data == f"{root}/song_data/"
    return SourceLocations(paths.log_data, paths.song_data, paths.log_jsonpath, root if shared else None)


REDSHIFT_REQUIRED = (("IAM_ROLE", "ARN"),)


# ---------------------------------------------------------------------------
# Writing: what cluster.py create learns (the endpoint, the role ARN) goes back into the file
# ---------------------------------------------------------------------------

KEY_LINE = re.compile(r"^(?P<key>[^=:\s#;\[][^=:]*?)\s*[=:]")


def write_keys(path, values: dict[str, dict[str, str]]) -> None:
    """Set KEY=value in the given sections of ``path``, keeping every other line and comment.

    A key that is missing is added at the end of its section, a section at
    the end of the file. The file is replaced in one step (a temporary file in
    the same folder, synced, then renamed), keeping its mode; a crash leaves
    the old file or the new one, never half of one. A secret is never
    written: asking to is a bug.
    """
    for section, keys in values.items():
        for key, value in keys.items():
            if (section, key.upper()) in SECRET_KEYS:
                raise ValueError(f"[{section}] {key} holds a secret: config.write_keys never writes one")
            if "\n" in str(value) or "\r" in str(value):
                raise ValueError(f"[{section}] {key}: a value of more than one line")
    path = Path(path)
    raw = path.read_bytes() if path.exists() else b""
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    output = _with_keys(text.splitlines(), values)
    replace_file(path, ("\ufeff" if bom else "") + newline.join(output) + newline, new_mode=0o600)


def _with_keys(lines: list[str], values: dict[str, dict[str, str]]) -> list[str]:
    pending = {section: dict(keys) for section, keys in values.items()}
    output, section, section_end = [], None, {}
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section in pending and not line[:1].isspace():  # an indented line continues a value
            match = KEY_LINE.match(stripped)
            key = match.group("key").strip() if match else None
            name = next((name for name in pending[section] if key and name.upper() == key.upper()), None)
            if name is not None:
                line = f"{key}={pending[section].pop(name)}"
        output.append(line)
        if section is not None and stripped and not stripped.startswith(("#", ";")):
            section_end[section] = len(output)
    for name in sorted(pending, key=lambda name: -section_end.get(name, len(output) + 1)):
        added = [f"{key}={value}" for key, value in pending[name].items()]
        if not added:
            continue
        if name in section_end:
            output[section_end[name]:section_end[name]] = added
        else:
            output += (["", f"[{name}]"] if output else [f"[{name}]"]) + added
    return output
