"""Incremental loads: the ledger of loaded files, and which files a run stages.

Sparkify's logs grow by one file a day. A daily run stages only the files that
are new since the ledger (the ``loaded_files`` table) was last written, and
updates the star schema from them, with the same result as a full reload
(the statements, and why they are shaped so, are in sparkify/run/daily_load_sql.py).

A run reloads everything instead, and says why, when:

- ``--full`` asks for it;
- the ledger is empty (the first run, or after create_tables.py);
- the ledger holds another source's files;
- a file it holds has changed (another size or version): the rows it staged
  before cannot be told apart from the others, so they are all restaged.

``--since`` and ``--until`` restrict the log files by the date in their path
(``log_data/2018/11/2018-11-05-events.json`` is of 2018-11-05), for
backfills. Song files have no date and are never restricted.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sparkify.config import is_s3
from sparkify.results import LoadError
from sql_queries import column_list

PREFIXES = {"log_data": "staging_events", "song_data": "staging_songs"}
PREFIX_OF = {table: prefix for prefix, table in PREFIXES.items()}
WORK_TABLES = {"staging_events": "staging_events_new", "staging_songs": "staging_songs_new"}
LEDGER_ROWS_PER_INSERT = 500

# The ledger's own statements (its table is sql_queries.loaded_files_table_create).
#
# Whether the ledger is there, and whether this user may use it: (tables
# named loaded_files in the current schema, of them those it may read, add to
# and empty). Not information_schema.tables, which lists only the tables the
# user has a privilege on: a ledger that belongs to another user would read
# as missing. pg_class lists every table; HAS_TABLE_PRIVILEGE asks for each
# right (https://docs.aws.amazon.com/redshift/latest/dg/r_HAS_TABLE_PRIVILEGE.html).
LEDGER_RIGHTS = ("SELECT", "INSERT", "DELETE")  # what a run does to the ledger
loaded_files_exists = """
SELECT
    COUNT(*),
    COUNT(
        CASE WHEN HAS_TABLE_PRIVILEGE(quote_ident(schemas.nspname) || '.loaded_files', 'SELECT')
            AND HAS_TABLE_PRIVILEGE(quote_ident(schemas.nspname) || '.loaded_files', 'INSERT')
            AND HAS_TABLE_PRIVILEGE(quote_ident(schemas.nspname) || '.loaded_files', 'DELETE')
        THEN 1 END
    )
FROM pg_class AS relations
JOIN pg_namespace AS schemas
    ON schemas.oid = relations.relnamespace
WHERE schemas.nspname = current_schema()
    AND relations.relname = 'loaded_files'
"""

loaded_files_select = """
SELECT file_key, source, size, version
FROM loaded_files
"""

loaded_files_clear = "DELETE FROM loaded_files"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass
class Choice:
    """What a run stages, and whether it rebuilds the star (``full``) or updates it."""

    source: str
    full: bool
    reason: str
    files: dict | None = field(default_factory=dict)  # prefix -> SourceFiles to stage; None: not listed
    new: int = 0
    changed: int = 0
    skipped: int = 0  # already loaded, unchanged
    outside: int = 0  # log files outside --since/--until
    recorded: bool = True  # whether the warehouse has a ledger to write
    gone: int = 0  # files in the ledger no longer in the source, whose rows a daily run keeps

    @property
    def staged_files(self) -> list:
        return [item for files in (self.files or {}).values() for item in files]

    @property
    def nothing_new(self) -> bool:
        return not self.full and not self.staged_files

    def warning_lines(self) -> list[str]:
        if self.full or not self.gone:
            return []
        files = "1 file" if self.gone == 1 else f"{self.gone:,} files"
        return [f"{files} in the ledger {'is' if self.gone == 1 else 'are'} no longer in the source: a daily run "
                f"keeps the rows {'it' if self.gone == 1 else 'they'} staged; etl.py --full drops them"]

    def describe(self) -> str:
        if self.files is None:
            return f"files: not listed here; {self.reason}"
        parts = [f"{self.new:,} new", f"{self.changed:,} changed", f"{self.skipped:,} skipped (already loaded)"]
        if self.outside:
            parts.append(f"{self.outside:,} outside --since/--until")
        return f"files: {', '.join(parts)}; {self.reason}"


def source_identity(source) -> str:
    """The source as the ledger names it: its S3 URL, or its folder's absolute path."""
    label = source.label
    return label.rstrip("/") if is_s3(label) else str(Path(label).resolve())


def log_date(name: str) -> date | None:
    """The date in a log file's path, or None."""
    found = _DATE.search(name.rsplit("/", 1)[-1]) or _DATE.search(name)
    if not found:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def in_window(name: str, since: date | None, until: date | None) -> bool:
    """Whether a log file falls within --since/--until (inclusive); a file with no date only without them."""
    if since is None and until is None:
        return True
    day = log_date(name)
    if day is None:
        return False
    return (since is None or day >= since) and (until is None or day <= until)


def list_source(source) -> dict:
    """prefix -> the source's SourceFiles; a missing source is a LoadError, as for a full load."""
    try:
        source.check()
    except FileNotFoundError as error:
        raise LoadError(str(error)) from None
    return {prefix: source.files(prefix) for prefix in PREFIXES}


def manifest(source, files) -> bytes:
    """A COPY manifest naming exactly ``files`` of the S3 ``source``, each mandatory."""
    entries = [{"url": f"s3://{source.bucket}/{source.key(item.name)}", "mandatory": True} for item in files]
    return json.dumps({"entries": entries}, indent=1).encode("utf-8")


def write_manifests(source, prefix: str, files: dict, now=None) -> dict[str, str]:
    """Write one manifest per staging table with ``files`` to stage below ``prefix``; table -> its URL.

    The names carry the run's time, so a manifest is never overwritten and
    stays as the record of what that run asked COPY to read.
    """
    from botocore.exceptions import BotoCoreError, ClientError  # only S3 runs pay for boto3

    from sparkify.sources.s3 import explain, parse_s3_url

    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    urls = {}
    for prefix_name, chosen in files.items():
        if not chosen:
            continue
        table = PREFIXES[prefix_name]
        url = f"{prefix.rstrip('/')}/{stamp}-{table}.manifest"
        bucket, key = parse_s3_url(url)
        try:
            source.client.put_object(Bucket=bucket, Key=key, Body=manifest(source, chosen))
        except (ClientError, BotoCoreError) as error:
            raise explain(error, url) from None
        urls[table] = url
    return urls


def read_ledger(cursor, full=False) -> dict[str, tuple] | None:
    """file_key -> (source, size, version) of every file the ledger holds.

    None when a --full run finds no ledger: a warehouse created before it
    existed still reloads as it always did, without one.
    """
    cursor.execute(loaded_files_exists)
    present, usable = cursor.fetchone() or (0, 0)
    if not present:
        if full:
            return None
        raise LoadError(
            "the warehouse has no loaded_files ledger (it was created before incremental loads): "
            "run create_tables.py, which empties it, or etl.py --full"
        )
    if not usable:
        cursor.execute("SELECT current_user")
        user = (cursor.fetchone() or ("this user",))[0]
        raise LoadError(
            f"the database user {user} may not read and write the loaded_files ledger (it needs "
            f"{', '.join(LEDGER_RIGHTS)} on it): the tables belong to another user, or create_tables.py "
            "recreated them since they were granted. Run etl.py as the user that ran create_tables.py, or "
            "see docs/iam-authentication.md#the-database-users-privileges for an arrangement that lasts"
        )
    cursor.execute(loaded_files_select)
    return {key: (source, size, version) for key, source, size, version in cursor.fetchall()}


def choose_files(cursor, source, full=False, since=None, until=None) -> Choice:
    """Read the ledger, list the source, and choose what to stage.

    A source that is not listed here (Redshift's COPY of whole prefixes) is
    reloaded whole, and the ledger forgotten: the next daily run that lists
    the source reloads it and records every file.
    """
    ledger = read_ledger(cursor, full or not source.listable)
    if not source.listable:
        return Choice(source=source.label, full=True, files=None, recorded=ledger is not None,
                      reason="COPY reads the whole prefixes: everything reloaded")
    return choose(list_source(source), ledger, source_identity(source), full, since, until)


def choose(listing: dict, ledger: dict | None, source: str, full=False, since=None, until=None) -> Choice:
    """Which files to stage. ``listing`` maps each prefix to the source's SourceFiles."""
    recorded = ledger is not None
    ledger = ledger or {}
    others = sorted({known[0] for known in ledger.values() if known[0] != source})
    if others:  # another source's files are neither new, changed nor loaded here: compare with nothing
        ledger = {}
    wanted = {
        prefix: [item for item in files if prefix != "log_data" or in_window(item.name, since, until)]
        for prefix, files in listing.items()
    }
    choice = Choice(source=source, full=full, reason="--full: everything reloaded", recorded=recorded)
    choice.outside = sum(len(files) for files in listing.values()) - sum(len(files) for files in wanted.values())
    listed = {item.name for files in listing.values() for item in files}
    choice.gone = sum(1 for name in ledger if name not in listed)
    changed = []
    for files in wanted.values():
        for item in files:
            known = ledger.get(item.name)
            if known is None:
                choice.new += 1
            elif known[1] != item.size or not same_version(known[2], item.version):
                choice.changed += 1
                changed.append(item.name)
            else:
                choice.skipped += 1
    if not full:
        if others:
            choice.full = True
            choice.reason = (f"the warehouse holds {others[0]}, another source: this run replaces it "
                             f"with {source}, everything reloaded")
        elif not ledger:
            choice.full, choice.reason = True, "the ledger is empty: everything loaded"
        elif changed:
            choice.full = True
            choice.reason = f"{changed[0]} changed since it was loaded: everything reloaded"
    if choice.full:
        # A reload keeps the days loaded before, even outside --since/--until.
        keep = {item.name for files in wanted.values() for item in files}
        if not full:
            keep.update(ledger)
        choice.files = {prefix: [item for item in files if item.name in keep] for prefix, files in listing.items()}
    else:
        choice.files = {
            prefix: [item for item in files if item.name not in ledger] for prefix, files in wanted.items()
        }
        choice.reason = "only the new files staged" if choice.new else "nothing new: the warehouse is unchanged"
    return choice


def same_version(recorded: str, listed: str) -> bool:
    """Whether a file is as the ledger recorded it. A folder's version was once the raw
    nanoseconds of its modification time: such a ledger row still matches the same time."""
    if recorded == listed:
        return True
    if recorded.isdigit() and listed.endswith("Z") and "T" in listed:
        from sparkify.sources.folder import version_nanoseconds

        return version_nanoseconds(listed) == int(recorded)
    return False


def ledger_statements(choice: Choice, loads, now=None) -> list[tuple[str, list | None]]:
    """(statement, values) that record this run's files in the ledger: all anew after a reload, else the new
    ones. The values are bound or quoted by the engine's cursor, as its database reads them: a file name is
    stored as it is named, backslashes and quotes included."""
    if not choice.recorded:
        return []
    if choice.files is None:
        return [(loaded_files_clear, None)]
    now = now or datetime.now(UTC).replace(tzinfo=None)
    file_rows, rejected = {}, {}
    root = choice.source + "/"
    for load in loads:
        file_rows.update(load.file_rows)
        for source_file, count in load.rejected_by_file.items():
            name = source_file.removeprefix(root)  # COPY names the whole s3:// URL
            rejected[name] = rejected.get(name, 0) + count
    rows = [
        [item.name, choice.source, PREFIXES[prefix], int(item.size), item.version, file_rows.get(item.name),
         rejected.get(item.name, 0), now.isoformat(sep=" ", timespec="seconds")]
        for prefix, files in choice.files.items()
        for item in files
    ]
    statements = [(loaded_files_clear, None)] if choice.full else []
    for start in range(0, len(rows), LEDGER_ROWS_PER_INSERT):
        batch = rows[start:start + LEDGER_ROWS_PER_INSERT]
        values = ",\n    ".join("(%s, %s, %s, %s, %s, %s, %s, %s)" for _ in batch)
        statements.append((f"INSERT INTO loaded_files ({column_list('loaded_files')})\nVALUES\n    {values}",
                           [value for row in batch for value in row]))
    return statements
