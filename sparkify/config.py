"""The only reader of dwh.cfg and of the environment variables that stand in for it.

    config = read_config()                       # dwh.cfg, $DWH_CONFIG or --config
    where = source_locations(config, "s3://my-bucket/sparkify")
    redshift = redshift_settings(config)         # every missing key named at once

``dwh.cfg.example`` documents every key. Nothing here prints a secret: a
malformed line is reported by its number, never quoted.
"""

import configparser
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "dwh.cfg"
DEFAULT_SOURCE = PROJECT_DIR / "data" / "sample"
PASSWORD_ENV = "DWH_DB_PASSWORD"
MAX_REDSHIFT_ERRORS = 100_000  # the largest MAXERROR that COPY accepts


class TargetError(Exception):
    """A problem with the configuration or the connection, worded for a person (exit status 2)."""


def config_path(config_file=None) -> Path:
    return Path(config_file or os.environ.get("DWH_CONFIG") or DEFAULT_CONFIG)


def read_config(config_file=None) -> configparser.ConfigParser:
    """dwh.cfg, or an empty config when there is none and none was asked for."""
    config = configparser.ConfigParser(interpolation=None)
    path = config_path(config_file)
    if not path.exists():
        if config_file:
            raise TargetError(f"config file {path} not found: copy dwh.cfg.example to {path} and fill it in")
        return config
    if not path.is_file():
        raise TargetError(f"config file {path} is not a file: give the path of a copy of dwh.cfg.example")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not the first line's text
    except UnicodeDecodeError as error:
        raise TargetError(
            f"{path}: byte {error.start} is not UTF-8 text: compare it with dwh.cfg.example"
        ) from None
    except OSError as error:
        raise TargetError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        config.read_string(text, source=str(path))
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
    if any(setting(config, section, key) for section, key in SECRETS):
        _warned.add(path)
        print(
            f"warning: {path} holds a password or an AWS key and other users can read it "
            f"(mode {mode:o}): run chmod 600 {path}, or move the secret to {PASSWORD_ENV} / your AWS profile",
            file=sys.stderr,
        )


def setting(config, section: str, key: str) -> str | None:
    """``[section] key`` of the config, stripped, or None when it is missing or empty."""
    if config is None or not config.has_section(section):
        return None
    return config[section].get(key, "").strip() or None


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
        return is_s3(self.log_data)


def locations_below(root) -> SourceLocations:
    if is_s3(str(root)):
        base = str(root).rstrip("/")
        return SourceLocations(f"{base}/log_data/", f"{base}/song_data/", f"{base}/log_json_path.json", base)
    root = Path(root)
    return SourceLocations(str(root / "log_data"), str(root / "song_data"), str(root / "log_json_path.json"),
                           str(root))


def source_locations(config, source=None, default=None, required=()) -> SourceLocations:
    """``--source``, else ``default`` (the bundled sample, for a local run), else the [S3] paths.

    [S3] LOG_DATA and SONG_DATA that are ``log_data`` and ``song_data`` of one
    folder give that folder as the root, which a daily run lists. ``required``:
    (section, key) pairs the engine needs besides; every missing one is named
    in one error, so that one run tells the user all there is to set.
    """
    missing = [] if source or default else [
        ("S3", key) for key in ("LOG_DATA", "SONG_DATA", "LOG_JSONPATH") if not setting(config, "S3", key)
    ]
    missing += [(section, key) for section, key in required if not setting(config, section, key)]
    if missing:
        names = ", ".join(f"[{section}] {key}" for section, key in missing)
        hint = "" if source or default or not any(section == "S3" and key != "REGION" for section, key in missing) \
            else ", or give --source s3://..."
        raise TargetError(f"the config has no {names}: set {'it' if len(missing) == 1 else 'them'} "
                          f"(see dwh.cfg.example){hint}")
    if source or default:
        return locations_below(source or default)
    log_data, song_data, jsonpath = (setting(config, "S3", key) for key in ("LOG_DATA", "SONG_DATA", "LOG_JSONPATH"))
    root = log_data.rstrip("/").rsplit("/", 1)[0]
    shared = log_data.rstrip("/") == f"{root}/log_data" and song_data.rstrip("/") == f"{root}/song_data"
    return SourceLocations(log_data, song_data, jsonpath, root if shared else None)


@dataclass(frozen=True)
class RedshiftSettings:
    """What Redshift's COPY needs besides the source: the role it reads with, the region, where manifests go."""

    iam_role: str
    region: str | None  # None: COPY without REGION, every file in the cluster's region
    manifest_prefix: str | None


REDSHIFT_REQUIRED = (("IAM_ROLE", "ARN"),)


def redshift_settings(config) -> RedshiftSettings:
    """[IAM_ROLE] ARN, required; [S3] REGION and MANIFEST_PREFIX, optional. Every missing key at once.

    An empty [S3] REGION is a COPY without REGION, which reads every file in
    the cluster's region; doctor.py says when that cannot work.
    """
    missing = [f"[{section}] {key}" for section, key in REDSHIFT_REQUIRED if not setting(config, section, key)]
    if missing:
        raise TargetError(f"the config has no {', '.join(missing)}: set {'it' if len(missing) == 1 else 'them'} "
                          "(see dwh.cfg.example)")
    prefix = setting(config, "S3", "MANIFEST_PREFIX")
    if prefix is not None and not is_s3(prefix):
        raise TargetError(f"[S3] MANIFEST_PREFIX must be an s3:// prefix, not {prefix!r} (see dwh.cfg.example)")
    return RedshiftSettings(setting(config, "IAM_ROLE", "ARN"), setting(config, "S3", "REGION"), prefix)


def s3_endpoint(config) -> tuple[str | None, str | None]:
    """(endpoint URL, region) for reading S3 from this machine: [S3] ENDPOINT_URL and REGION."""
    return setting(config, "S3", "ENDPOINT_URL"), setting(config, "S3", "REGION")
