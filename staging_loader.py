"""Stage a local source folder into PostgreSQL: what Redshift's COPY does, done here.

The loader reads the source files itself and streams the rows into the staging
tables with ``COPY ... FROM STDIN`` (never a per-row INSERT):

- ``staging_events`` from ``log_data/**.json`` through the source's own
  ``log_json_path.json`` (as ``FORMAT AS JSON 'jsonpaths_file'``);
- ``staging_songs`` from ``song_data/**.json`` by column name (as
  ``FORMAT AS JSON 'auto'``).

Each value is converted to its column's type as the table in the database
declares it, with Redshift's rules: a number in a JSON string is a valid number,
an empty string in a numeric column is NULL, VARCHAR(n) holds n *bytes*. A
record that does not fit is a rejected record with its file, line, column and
text; more than ``max_errors`` of them fail the load (as COPY's MAXERROR).
"""

import io
import math
import re
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson
import psycopg2

from json_records import Record, read_records
from jsonpaths import JsonPathsError, extract, read_jsonpaths
from sources import open_source

ROWS_PER_CHUNK = 256  # small chunks let Python build the next while PostgreSQL copies this one

INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
FLOAT_TYPES = {"double precision", "real", "numeric"}
TEXT_TYPES = {"character varying", "character", "text"}

_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*\Z")
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class LoadError(Exception):
    """The load failed; ``rejected`` holds the records that were turned down."""

    def __init__(self, message, rejected=()):
        super().__init__(message)
        self.rejected = list(rejected)


@dataclass
class RejectedRecord:
    table_name: str
    source_file: str
    line_number: int
    column_name: str | None
    reason: str
    raw_value: str | None
    raw_record: str

    def describe(self) -> str:
        column = f", column {self.column_name}" if self.column_name else ""
        return f"{self.source_file}:{self.line_number}{column}: {self.reason}"


@dataclass
class TableLoad:
    table: str
    files: int = 0
    bytes: int = 0
    rows: int = 0
    rejected: list = field(default_factory=list)
    seconds: float = 0.0
    file_rows: dict = field(default_factory=dict)  # rows staged from each file, for the ledger


@dataclass
class Column:
    name: str
    type: str
    max_length: int | None
    nullable: bool


class _Reject(Exception):
    """A value that does not fit its column."""


# ---------------------------------------------------------------------------
# Values -> COPY text fields
# ---------------------------------------------------------------------------


def table_columns(cursor, table: str) -> list[Column]:
    """The table's columns as the database declares them: the DDL is the truth."""
    cursor.execute(
        """
        SELECT column_name, data_type, character_maximum_length, is_nullable = 'YES'
        FROM information_schema.columns
        WHERE table_name = %s AND table_schema = current_schema()
        ORDER BY ordinal_position
        """,
        (table,),
    )
    columns = [Column(*row) for row in cursor.fetchall()]
    if not columns:
        raise LoadError(f"table {table} does not exist: run create_tables.py first")
    return columns


def converter(column: Column):
    """A function from a JSON value to the COPY text of ``column`` (or _Reject)."""
    if column.type in TEXT_TYPES:
        convert = _text_converter(column.max_length)
    elif column.type in INTEGER_RANGES:
        convert = _integer_converter(*INTEGER_RANGES[column.type])
    elif column.type in FLOAT_TYPES:
        convert = _float
    else:
        raise LoadError(f"the loader cannot stage column {column.name} of type {column.type}")

    if column.nullable:
        return convert

    def not_null(value):
        text = convert(value)
        if text == "\\N":
            raise _Reject("has no value, and the column is NOT NULL")
        return text

    return not_null


def _text_converter(max_bytes):
    def text(value):
        if value is None:
            return "\\N"
        kind = type(value)
        if kind is not str:
            if kind is bool:
                value = "true" if value else "false"
            elif kind is int or kind is float:
                value = repr(value)
            else:
                value = orjson.dumps(value).decode()
        if "\x00" in value:
            raise _Reject("contains a NUL character, which a VARCHAR cannot hold")
        if max_bytes is not None and len(value) * 4 > max_bytes:
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError:
                raise _Reject("holds an unpaired UTF-16 surrogate (an invalid \\u escape)") from None
            if size > max_bytes:
                raise _Reject(f"is {size} bytes long, more than the column's {max_bytes}")
        elif not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject("holds an unpaired UTF-16 surrogate (an invalid \\u escape)") from None
        return value.translate(_COPY_ESCAPES)

    return text


def _integer_converter(low, high):
    def integer(value):
        kind = type(value)
        if kind is int:
            number = value
        elif value is None:
            return "\\N"
        elif kind is str:
            if value == "":
                return "\\N"  # Redshift loads an empty numeric field as NULL
            if not _INTEGER_TEXT.match(value):
                raise _Reject(f"{value!r} is not an integer")
            number = int(value)
        else:
            raise _Reject(f"{_json_text(value)} is not an integer")
        if not low <= number <= high:
            raise _Reject(f"{number} is out of range [{low}, {high}]")
        return str(number)

    return integer


def _float(value):
    kind = type(value)
    if value is None:
        return "\\N"
    if kind is float:
        number = value
    elif kind is int or kind is str:
        if value == "":
            return "\\N"
        if kind is str and not _NUMBER_TEXT.match(value):
            raise _Reject(f"{value!r} is not a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    else:
        raise _Reject(f"{_json_text(value)} is not a number")
    if not math.isfinite(number):
        raise _Reject(f"{str(value)[:40]} is out of range for a double precision")
    return repr(number)


def _json_text(value):
    return orjson.dumps(value).decode() if value is not None else "null"


# ---------------------------------------------------------------------------
# Records -> rows
# ---------------------------------------------------------------------------


def row_builder(columns, paths):
    """A function from a JSON object to its COPY line.

    The converters above define what each value becomes. This compiles one
    function per table that handles the common cases inline (an ASCII string
    that fits, an int in range, a finite float, a null) and hands every other
    value to the column's converter: the same result, without a Python call
    per field on the hot path.
    """
    converters = [converter(column) for column in columns]
    names = [column.name for column in columns]

    def slow(index, value):
        try:
            return converters[index](value)
        except _Reject as reject:
            reject.column = names[index]
            reject.value = value
            raise

    namespace = {"slow": slow, "extract": extract, "ESCAPES": _COPY_ESCAPES, "isfinite": math.isfinite}
    body = ["def build(record):", "    get = record.get"]
    for index, (column, path) in enumerate(zip(columns, paths)):
        if len(path) == 1 and isinstance(path[0], str):
            body.append(f"    v = get({path[0]!r})")
        else:
            namespace[f"PATH{index}"] = path
            body.append(f"    v = extract(record, PATH{index})")
        null = "'\\\\N'" if column.nullable else f"slow({index}, v)"
        body.append(f"    if v is None: f{index} = {null}")
        if column.type in TEXT_TYPES:
            limit = f" and len(v) <= {column.max_length}" if column.max_length else ""
            needs_escape = "'\\\\' in v or '\\t' in v or '\\n' in v or '\\r' in v"
            body.append(
                f"    elif type(v) is str and v.isascii(){limit} and '\\x00' not in v:\n"
                f"        f{index} = v.translate(ESCAPES) if ({needs_escape}) else v"
            )
        elif column.type in INTEGER_RANGES:
            low, high = INTEGER_RANGES[column.type]
            body.append(f"    elif type(v) is int and {low} <= v <= {high}: f{index} = str(v)")
            # the app sends userId as a string of digits
            digits = "type(v) is str and 0 < len(v) < 10 and v.isascii() and v.isdigit()"
            body.append(f"    elif {digits}: f{index} = str(int(v))")
        elif column.type in FLOAT_TYPES:
            body.append(f"    elif type(v) is float and isfinite(v): f{index} = repr(v)")
        body.append(f"    else: f{index} = slow({index}, v)")
    fields = "\\t".join(f"{{f{index}}}" for index in range(len(columns)))
    body.append(f'    return f"{fields}\\n"')
    exec("\n".join(body), namespace)
    return namespace["build"]


# ---------------------------------------------------------------------------
# The COPY itself
# ---------------------------------------------------------------------------


class _RowStream:
    """A file-like object that psycopg2's copy_expert reads COPY text from.

    psycopg2 turns an exception raised in read() into a generic QueryCanceled;
    the original is kept in ``error`` so that the caller can raise it instead.
    """

    def __init__(self, chunks):
        self._chunks = chunks
        self.error = None

    def read(self, size=-1):
        try:
            return next(self._chunks, b"")
        except BaseException as error:
            self.error = error
            raise


def copy_rows(cursor, table, column_names, lines):
    """Stream an iterable of COPY text lines into ``table``.

    When the connection dies during the COPY, psycopg2 prints an internal
    SystemError through sys.excepthook and raises it, so the person would see
    a traceback and no word of the lost connection: the hook is muted for the
    COPY, and the error raised is the OperationalError it is.
    """
    stream = _RowStream(_chunked(lines))
    sql = f"COPY {table} ({', '.join(column_names)}) FROM STDIN"
    excepthook, sys.excepthook = sys.excepthook, _ignore
    try:
        cursor.copy_expert(sql, stream, size=65536)
    except Exception as error:
        if stream.error is not None:
            raise stream.error from None
        if cursor.connection.closed and not isinstance(error, psycopg2.Error):
            raise psycopg2.OperationalError(f"the connection was lost during COPY {table}") from None
        raise
    finally:
        sys.excepthook = excepthook


def _ignore(*exc_info):
    pass


def _chunked(lines):
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= ROWS_PER_CHUNK:
            yield "".join(batch).encode("utf-8")
            batch = []
    if batch:
        yield "".join(batch).encode("utf-8")


SMALL_FILE_BYTES = 64 * 1024


def file_records(stream):
    """The records of one file; a small file holding one object takes a short cut.

    Song files hold one object each, and there are hundreds of thousands of
    them: reading such a file whole and parsing it in one call saves the
    streaming reader's set-up per file. Anything else goes to read_records().
    """
    head = stream.read(SMALL_FILE_BYTES)
    if len(head) < SMALL_FILE_BYTES:
        text = head.strip(b" \t\r\n")
        if text[:1] == b"{" and text[-1:] == b"}":
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
            else:
                if type(value) is dict:
                    line = 1 + head.count(b"\n", 0, head.index(b"{"))
                    return [Record(line, value)]
        return read_records(io.BytesIO(head))
    return read_records(_Prefixed(head, stream))


READ_AHEAD_BATCH = 128  # small files read per task
READ_AHEAD_BATCHES = 8  # tasks in flight: at most 8 x 128 x 64 KB = 64 MB held


def read_ahead(files):
    """(SourceFile, open stream) for each file, in order; small files are read ahead.

    A catalogue is hundreds of thousands of small files, and opening and
    reading each costs more than parsing it, a lot more when the disk cache
    is cold. Threads read the next small files (the GIL is released while
    they wait on the disk) while this thread converts the current ones.
    Larger files are opened in turn and streamed.
    """
    groups = []
    for source_file in files:
        if source_file.size < SMALL_FILE_BYTES:
            if not groups or not isinstance(groups[-1], list) or len(groups[-1]) >= READ_AHEAD_BATCH:
                groups.append([])
            groups[-1].append(source_file)
        else:
            groups.append(source_file)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="read-ahead") as pool:
        pending = deque()
        position = 0
        while pending or position < len(groups):
            while position < len(groups) and len(pending) < READ_AHEAD_BATCHES:
                group = groups[position]
                position += 1
                pending.append((group, pool.submit(_read_all, group) if isinstance(group, list) else None))
            group, future = pending.popleft()
            if future is None:
                yield group, group.open()
            else:
                for source_file, data in zip(group, future.result()):
                    yield source_file, io.BytesIO(data)


def _read_all(group):
    contents = []
    for source_file in group:
        with source_file.open() as stream:
            contents.append(stream.read())
    return contents


class _Prefixed:
    """A stream that first returns bytes already read from it."""

    def __init__(self, head, stream):
        self._head = head
        self._stream = stream

    def read(self, size=-1):
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)


def stage_table(cursor, table, files, paths_for, max_errors, progress=None, into=None) -> TableLoad:
    """Stage every record of ``files`` (SourceFile objects) into ``table``.

    ``paths_for(columns)`` gives the JSON path of each column. ``into`` names
    another table with ``table``'s columns to copy into instead (an
    incremental run's temporary table).
    """
    started = time.perf_counter()
    columns = table_columns(cursor, table)
    build = row_builder(columns, paths_for(columns))
    result = TableLoad(table=table)

    def lines():
        for source_file, stream in read_ahead(files):
            name = source_file.name
            result.files += 1
            rows_before = result.rows
            with stream:
                for item in file_records(stream):
                    if type(item) is Record:
                        try:
                            line = build(item.value)
                        except _Reject as reject:
                            _rejected(result, max_errors, RejectedRecord(
                                table, name, item.line, reject.column, f"{reject.column} {reject}",
                                None if reject.value is None else _json_text(reject.value)[:1024],
                                orjson.dumps(item.value).decode()[:65535],
                            ))
                            continue
                        result.rows += 1
                        yield line
                    else:
                        _rejected(result, max_errors, RejectedRecord(
                            table, name, item.line, None, item.reason, None, item.raw,
                        ))
            result.bytes += source_file.size
            result.file_rows[name] = result.rows - rows_before
            if progress is not None:
                progress(source_file.size)

    copy_rows(cursor, into or table, [column.name for column in columns], lines())
    result.seconds = time.perf_counter() - started
    return result


def _rejected(result, max_errors, record):
    result.rejected.append(record)
    if len(result.rejected) > max_errors:
        raise LoadError(
            f"{result.table}: {record.describe()}\n"
            f"  record: {record.raw_record[:200]}\n"
            f"The load stopped: {len(result.rejected)} rejected record(s), more than "
            f"--max-errors {max_errors}. Fix the source, or rerun with --max-errors N "
            f"to load the good records and keep the rejected ones in rejected_records.",
            result.rejected,
        )


def stage_source(cursor, location, max_errors=0, progress=None, files=None, into=None) -> list[TableLoad]:
    """Stage a whole source (song_data/, log_data/, log_json_path.json).

    ``location`` is a folder or a source object (sources.py). ``progress``,
    if given, is told the total size (``progress.total``) and each file's size
    as it is read (``progress.update(bytes)``), as tqdm is. ``files``, if
    given, maps "log_data" and "song_data" to the files to stage instead of
    all of them; ``into`` maps a staging table to the table to copy into.
    """
    source = open_source(location)
    try:
        source.check()
    except FileNotFoundError as error:
        raise LoadError(str(error)) from None
    if files is not None:
        event_files, song_files = files["log_data"], files["song_data"]
    else:
        event_files, song_files = source.files("log_data"), source.files("song_data")
    if not event_files and not song_files:
        raise LoadError(
            f"{source.label} holds no log_data/**.json and no song_data/**.json: "
            "is it the right source?"
        )
    jsonpaths_name = f"{source.label.rstrip('/')}/log_json_path.json"
    try:
        event_paths = read_jsonpaths(source.read_bytes("log_json_path.json"), jsonpaths_name)
    except FileNotFoundError:
        raise LoadError(
            f"{jsonpaths_name} not found: the source must hold log_json_path.json next to log_data/"
        ) from None
    except JsonPathsError as error:
        raise LoadError(str(error)) from None
    if progress is not None:
        progress.total = sum(item.size for item in event_files + song_files)
        update = progress.update
    else:
        update = None

    def events_paths(columns):
        if len(event_paths) != len(columns):
            raise LoadError(
                f"{jsonpaths_name} has {len(event_paths)} paths but "
                f"staging_events has {len(columns)} columns: they must match one to one, in order"
            )
        return event_paths

    def songs_paths(columns):  # as JSON 'auto': the key is the column name
        return [(column.name,) for column in columns]

    into = into or {}
    return [
        stage_table(cursor, table, table_files, paths, max_errors, update, into.get(table))
        for table, table_files, paths in (
            ("staging_events", event_files, events_paths),
            ("staging_songs", song_files, songs_paths),
        )
    ]


def save_rejected(cursor, records) -> None:
    """Keep the rejected records in the rejected_records table."""
    lines = (
        "\t".join(
            "\\N" if value is None else str(value).replace("\x00", "").translate(_COPY_ESCAPES)
            for value in (
                record.table_name, record.source_file, record.line_number, record.column_name,
                record.reason, record.raw_value, record.raw_record,
            )
        ) + "\n"
        for record in records
    )
    copy_rows(
        cursor,
        "rejected_records",
        ["table_name", "source_file", "line_number", "column_name", "reason", "raw_value", "raw_record"],
        lines,
    )
