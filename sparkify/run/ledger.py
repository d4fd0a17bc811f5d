"""Incremental loads: the ledger of loaded files, the source a warehouse holds, and which files a run stages.

Sparkify's logs grow by one file a day. A daily run stages only the files that
are new since the ledger (the ``loaded_files`` table) was last written, and
updates the star schema from them, with the same result as a full reload
(the statements, and why they are shaped so, are in sparkify/run/daily_load_sql.py).

The ledger also says which source the warehouse holds: a run reads that one
unless ``--source`` names another, and a run never removes loaded rows that
its command line does not name (docs/daily-loads.md#what-each-command-may-remove).
``choose()`` holds that rule: it reloads everything, and says why, when

- ``--full`` asks for it (the rows of files gone from the source are dropped,
  and a warning names them);
- ``--replace-source`` allows this run's source to replace the one the
  warehouse holds;
- the warehouse holds nothing yet (the first run, or after create_tables.py);
- a file it holds has changed (another size or version): the rows it staged
  before cannot be told apart from the others, so they are all restaged;

and it raises ``Refused`` instead when such a reload would remove rows that
nobody named: another source without ``--replace-source``, a file gone from
the source or one that shrank, a source COPY reads whole.

``--since`` and ``--until`` restrict the log files by the date in their path
(``log_data/2018/11/2018-11-05-events.json`` is of 2018-11-05), for
backfills. Song files have no date and are never restricted.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sparkify.config import is_s3
from sparkify.output.printable import printable
from sparkify.results import LoadError, Refused
from sparkify.sources import holds_nothing
from sql_queries import column_list, loaded_files_table_create, staging_tables, star_tables

PREFIXES = {"log_data": "staging_events", "song_data": "staging_songs"}
PREFIX_OF = {table: prefix for prefix, table in PREFIXES.items()}
WORK_TABLES = {"staging_events": "staging_events_new", "staging_songs": "staging_songs_new"}
LEDGER_ROWS_PER_INSERT = 500
NAMED_GONE = 3  # files named in a warning or a refusal about files gone from the source
# The version of a ledger row that records a prefix COPY read whole (Redshift
# without [S3] MANIFEST_PREFIX): its file_key is the prefix's URL, and which
# files it held is not known.
WHOLE_PREFIX = "(whole prefix)"

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

# The sources the ledger records, read before a run that has no --source.
ledger_sources = "SELECT DISTINCT source FROM loaded_files"

# Whether staging or the star holds a row: a warehouse whose ledger is empty
# holds nothing, or rows that no recorded source accounts for.
holds_rows = "SELECT COUNT(*) FROM (\n" + "\n    UNION ALL\n".join(
    f"    SELECT 1 AS held FROM (SELECT 1 FROM {table} LIMIT 1) AS {table}_row"
    for table in staging_tables + star_tables
) + "\n) AS held"


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
    recorded: bool = True  # whether the warehouse has a ledger table (a full load creates it when not)
    gone: list = field(default_factory=list)  # files in the ledger no longer in the source, by name
    prefixes: dict | None = None  # prefix -> the URL COPY reads whole, when the files are not listed

    @property
    def staged_files(self) -> list:
        return [item for files in (self.files or {}).values() for item in files]

    @property
    def nothing_new(self) -> bool:
        return not self.full and not self.staged_files

    def warning_lines(self) -> list[str]:
        """A daily run keeps the rows of files gone from the source; --full drops them: never silently."""
        if not self.gone:
            return []
        one = len(self.gone) == 1
        files = f"{'1 file' if one else f'{len(self.gone):,} files'} in the ledger {'is' if one else 'are'} " \
                f"no longer in the source ({named(self.gone)})"
        if self.full:
            return [f"{files}: --full dropped the rows {'it' if one else 'they'} staged"]
        return [f"{files}: a daily run keeps the rows {'it' if one else 'they'} staged; etl.py --full drops them"]

    @property
    def listed(self) -> int:
        """How many files the listing found."""
        return self.new + self.changed + self.skipped + self.outside

    def describe(self) -> str:
        """The files line: what was listed and what is staged, counts that add up to the listing.

        A daily run skips the files loaded before; a reload stages them again,
        and says so: nothing is skipped when everything is reloaded.
        """
        if self.files is None:
            return f"files: not listed here; {self.reason}"
        if self.full:
            staged = len(self.staged_files)
            parts = [f"{staged:,} staged ({self.new:,} new, {self.changed:,} changed, "
                     f"{staged - self.new - self.changed:,} loaded before)"]
            outside = self.listed - staged
        else:
            parts = [f"{self.new:,} new", f"{self.changed:,} changed", f"{self.skipped:,} skipped (already loaded)"]
            outside = self.outside
        if outside:
            parts.append(f"{outside:,} outside --since/--until")
        return f"files: {', '.join(parts)}; {self.reason}"


def named(names, shown=NAMED_GONE) -> str:
    """The first few of ``names``, and how many more."""
    text = ", ".join(printable(name) for name in names[:shown])
    return text + (f" and {len(names) - shown:,} more" if len(names) > shown else "")


def source_identity(source) -> str:
    """The source as the ledger names it: its S3 URL, or its folder's absolute path."""
    where = getattr(source, "locations", None)  # Redshift's sources: what COPY reads
    if where is not None:
        return location_identity(where)
    label = source.label
    return label.rstrip("/") if is_s3(label) else str(Path(label).resolve())


def location_identity(where) -> str:
    """The identity of a source's locations (config.SourceLocations), as source_identity() gives it."""
    if where.root is None:  # [S3] paths that are not log_data/ and song_data/ of one folder
        return f"{where.log_data} and {where.song_data}"
    root = str(where.root)
    return root.rstrip("/") if is_s3(root) else str(Path(root).resolve())


def is_location(identity: str) -> bool:
    """Whether a ledger's source can be opened again as --source: an S3 URL or a folder's path."""
    return is_s3(identity) or Path(identity).is_absolute()


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
    """prefix -> the source's SourceFiles; a missing or empty source is a LoadError, before any other
    decision: a mistyped --source is named for what it is."""
    try:
        source.check()
    except FileNotFoundError as error:
        raise LoadError(str(error)) from None
    listing = {prefix: source.files(prefix) for prefix in PREFIXES}
    if not any(listing.values()):
        raise LoadError(holds_nothing(source.label))
    return listing


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


def read_ledger(cursor) -> dict[str, tuple] | None:
    """file_key -> (source, size, version) of every file the ledger holds; None when there is no ledger
    table (a warehouse created before it existed). LoadError when there is one this user may not use:
    it is not taken for a missing one."""
    present, usable = ledger_state(cursor)
    if not present:
        return None
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


def held_source(connection, engine) -> str | None:
    """The one source the warehouse's ledger records; None for no ledger, an empty one, or several sources.

    Read in a transaction of its own, rolled back, before a run that has no
    --source: the run's transaction must begin with its lock. The run reads
    the ledger again under the lock, and refuses if another run switched the
    source in between.
    """
    try:
        with engine.cursor_on(connection) as cursor, engine.cancelling(connection):
            if not all(ledger_state(cursor)):  # an unusable one: the run itself says so, under its lock
                return None
            cursor.execute(ledger_sources)
            sources = [source for (source,) in cursor.fetchall()]
    finally:
        engine.rollback(connection)
    return sources[0] if len(sources) == 1 else None


def ledger_state(cursor) -> tuple[int, int]:
    """(whether the ledger table is there, whether this user may use it)."""
    cursor.execute(loaded_files_exists)
    present, usable = cursor.fetchone() or (0, 0)
    return present, usable


def warehouse_holds_rows(cursor) -> bool:
    cursor.execute(holds_rows)
    return bool((cursor.fetchone() or (0,))[0])


def choose_files(cursor, source, request) -> Choice:
    """Read the ledger, list the source, and choose what to stage; Refused when the run may not.

    ``request`` is the run's pipeline.Request. A source that is not listed
    here (Redshift's COPY of whole prefixes) is reloaded whole.
    """
    ledger = read_ledger(cursor)
    holds = bool(ledger) or warehouse_holds_rows(cursor)
    identity = source_identity(source)
    if not source.listable:
        return whole_prefixes(source, identity, ledger, holds, request)
    return choose(list_source(source), ledger, identity, request.full, request.since, request.until,
                  holds=holds, replace_source=request.replace_source)


def whole_prefixes(source, identity, ledger, holds, request) -> Choice:
    """The choice for a source COPY reads whole, every file of it: a reload, allowed on a warehouse that
    holds nothing, with --full, or with --replace-source."""
    switch = is_switch(held_sources(ledger or {}), holds, identity, request.replace_source)
    if holds and not switch and not request.full:
        raise Refused(
            "refused: the config has no [S3] MANIFEST_PREFIX, so this run could only copy the whole prefixes "
            "again, replacing the warehouse with what they hold now (the rows of a file deleted since are "
            "dropped): rerun with --full to do that, or set [S3] MANIFEST_PREFIX for daily runs that add only "
            "the new files"
        )
    if switch:
        reason = replaced(ledger, identity)
    elif request.full:
        reason = "--full: COPY reads the whole prefixes: everything reloaded"
    else:
        reason = "the ledger is empty: COPY reads the whole prefixes: everything loaded"
    where = source.locations
    return Choice(source=identity, full=True, files=None, recorded=ledger is not None, reason=reason,
                  prefixes={"log_data": where.log_data, "song_data": where.song_data})


def choose(listing: dict, ledger: dict | None, source: str, full=False, since=None, until=None, holds=None,
           replace_source=False) -> Choice:
    """Which files to stage, or Refused. ``listing`` maps each prefix to the source's SourceFiles;
    ``ledger`` is read_ledger()'s; ``holds``: whether staging or the star holds a row (None: whether the
    ledger does); ``replace_source``: --replace-source."""
    recorded = ledger is not None
    ledger = ledger or {}
    holds = bool(ledger) or bool(holds)
    switch = is_switch(held_sources(ledger), holds, source, replace_source)
    known = {} if switch else files_of(ledger)
    if len(known) < len(ledger) and not switch and not full:
        raise Refused(
            "refused: the warehouse was loaded by a COPY of whole prefixes, which records no file, so a daily "
            "run cannot tell the new files from the loaded ones: rerun with --full once (it lists the source, "
            "reloads it and records each file)"
        )
    wanted = {
        prefix: [item for item in files if prefix != "log_data" or in_window(item.name, since, until)]
        for prefix, files in listing.items()
    }
    choice = Choice(source=source, full=full, reason="--full: everything reloaded", recorded=recorded)
    choice.outside = sum(len(files) for files in listing.values()) - sum(len(files) for files in wanted.values())
    listed = {item.name for files in listing.values() for item in files}
    choice.gone = sorted(name for name in known if name not in listed)
    changed, shrunk = [], []
    for files in wanted.values():
        for item in files:
            row = known.get(item.name)
            if row is None:
                choice.new += 1
            elif row[1] != item.size or not same_version(row[2], item.version):
                choice.changed += 1
                changed.append(item.name)
                if item.size < row[1]:
                    shrunk.append((item.name, item.size, row[1]))
            else:
                choice.skipped += 1
    if switch:
        choice.full, choice.reason = True, replaced(ledger, source)
    elif not full:
        if not holds:
            choice.full, choice.reason = True, "the ledger is empty: everything loaded"
        elif changed:
            refuse_a_reload_that_drops(changed[0], choice.gone, shrunk)
            choice.full = True
            choice.reason = f"{printable(changed[0])} changed since it was loaded: everything reloaded"
    if choice.full:
        # A reload keeps the days loaded before, even outside --since/--until.
        keep = {item.name for files in wanted.values() for item in files}
        if not full:
            keep.update(known)
        choice.files = {prefix: [item for item in files if item.name in keep] for prefix, files in listing.items()}
    else:
        choice.files = {
            prefix: [item for item in files if item.name not in known] for prefix, files in wanted.items()
        }
        choice.reason = "only the new files staged" if choice.new else "nothing new: the warehouse is unchanged"
    return choice


def files_of(ledger: dict) -> dict:
    """The ledger's rows of files, without those of whole prefixes. A ledger that records whole prefixes
    holds one row per prefix and nothing else (every reload writes the ledger anew): only one that small
    is searched, so that a daily run over 100,000 files does not copy their rows."""
    if len(ledger) > len(PREFIXES):
        return ledger
    return {name: row for name, row in ledger.items() if row[2] != WHOLE_PREFIX}


def held_sources(ledger: dict) -> list[str]:
    return sorted({row[0] for row in ledger.values()})


def is_switch(held: list[str], holds: bool, source: str, replace_source: bool) -> bool:
    """Whether this run would replace rows loaded from another source (or from none the ledger records):
    True with --replace-source; Refused without it."""
    if not holds or held == [source]:
        return False
    if replace_source:
        return True
    what = (f"the warehouse holds {' and '.join(printable(other) for other in held)}" if held else
            "the warehouse holds rows that its ledger (loaded_files) records no source for")
    raise Refused(
        f"refused: {what}, and this run's source is {printable(source)}: loading it would replace every row "
        f"loaded before. To replace them: etl.py --source {shlex.quote(printable(source))} --replace-source"
    )


def replaced(ledger: dict, source: str) -> str:
    held = held_sources(ledger)
    before = " and ".join(printable(other) for other in held) if held else "rows no ledger accounts for"
    return f"--replace-source: the warehouse held {before}: everything reloaded from {printable(source)}"


def refuse_a_reload_that_drops(changed: str, gone: list, shrunk: list) -> None:
    """A reload the operator did not ask for must not drop rows: those of a file gone from the source,
    or those a file that shrank no longer holds."""
    why = f"{printable(changed)} changed since it was loaded, so this run would reload everything"
    if gone:
        files = "1 file" if len(gone) == 1 else f"{len(gone):,} files"
        raise Refused(f"refused: {why}, and drop the rows of {files} in the ledger that the source no longer has "
                      f"({named(gone)}): rerun with --full to reload the source as it is now, dropping them")
    if shrunk:
        name, size, before = shrunk[0]
        raise Refused(f"refused: {why}, and {printable(name)} is smaller than when it was loaded ({size:,} bytes, "
                      f"was {before:,}): the rows it lost would be dropped; rerun with --full to reload the "
                      "source as it is now")


def same_version(recorded: str, listed: str) -> bool:
    """Whether a file is as the ledger recorded it. A folder's version was once the raw
    nanoseconds of its modification time: such a ledger row still matches the same time."""
    if recorded == listed:
        return True
    if recorded.isdigit() and listed.endswith("Z") and "T" in listed:
        from sparkify.sources.folder import version_nanoseconds

        return version_nanoseconds(listed) == int(recorded)
    return False


def ledger_statements(choice: Choice, loads, engine=None, now=None) -> list[tuple[str, list | None]]:
    """(statement, values) that record this run's files in the ledger, as any engine can run them:
    ledger_setup(), then multi-row INSERTs of ledger_rows() (what Engine.record_rows does by default)."""
    statements = [(statement, None) for statement in ledger_setup(choice, engine)]
    return statements + insert_statements("loaded_files", ledger_rows(choice, loads, now))


def ledger_setup(choice: Choice, engine=None) -> list[str]:
    """What comes before this run's rows: the ledger emptied by a reload, or created when it was missing
    (with ``engine``'s DDL); nothing for a daily run, which adds the new files' rows."""
    if choice.recorded:
        return [loaded_files_clear] if choice.full else []
    return engine.table_statements(loaded_files_table_create) if engine else []


def ledger_rows(choice: Choice, loads, now=None) -> list[list]:
    """The ledger's rows for this run's files: all anew after a reload, else the new ones.

    A file name is stored as it is named, backslashes and quotes included (the
    engine binds or quotes each value as its database reads it). A source COPY
    read whole is recorded as one row per prefix: which source the warehouse
    holds is always known, even when its files are not.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    file_rows, rejected, staged = {}, {}, {}
    root = choice.source + "/"
    for load in loads:
        file_rows.update(load.file_rows)
        staged[load.table] = load.rows
        for source_file, count in load.rejected_by_file.items():
            name = source_file.removeprefix(root)  # COPY names the whole s3:// URL
            rejected[name] = rejected.get(name, 0) + count
    if choice.files is None:
        entries = [(url, PREFIXES[prefix], 0, WHOLE_PREFIX, staged.get(PREFIXES[prefix]),
                    sum(load.rejected_count for load in loads if load.table == PREFIXES[prefix]))
                   for prefix, url in (choice.prefixes or {}).items()]
    else:
        entries = [(item.name, PREFIXES[prefix], item.size, item.version, file_rows.get(item.name),
                    rejected.get(item.name, 0))
                   for prefix, files in choice.files.items() for item in files]
    loaded_at = now.isoformat(sep=" ", timespec="seconds")
    return [
        [name, choice.source, table, int(size), version, None if rows_staged is None else int(rows_staged),
         int(rejects), loaded_at]
        for name, table, size, version, rows_staged, rejects in entries
    ]


def insert_statements(table: str, rows: list) -> list[tuple[str, list]]:
    """(INSERT, values) adding ``rows`` to ``table`` of sql_queries.py, LEDGER_ROWS_PER_INSERT rows each."""
    statements = []
    for start in range(0, len(rows), LEDGER_ROWS_PER_INSERT):
        batch = rows[start:start + LEDGER_ROWS_PER_INSERT]
        placeholders = "(" + ", ".join("%s" for _ in batch[0]) + ")"
        values = ",\n    ".join(placeholders for _ in batch)
        statements.append((f"INSERT INTO {table} ({column_list(table)})\nVALUES\n    {values}",
                           [value for row in batch for value in row]))
    return statements
