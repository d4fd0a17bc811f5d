"""Stage a source into PostgreSQL: what Redshift's COPY does, done here.

The loader reads the source files itself and streams the rows into the staging
tables with ``COPY ... FROM STDIN`` (never a per-row INSERT):

- ``staging_events`` from ``log_data/**.json`` through the source's own
  ``log_json_path.json`` (as ``FORMAT AS JSON 'jsonpaths_file'``);
- ``staging_songs`` from ``song_data/**.json`` by column name (as
  ``FORMAT AS JSON 'auto'``).

A block of log lines is decoded straight into typed rows where it can be
(typed_decoder.py), else parsed and converted as row_encoder.py says, with
Redshift's rules. A record that does not fit is a rejected record with its
file, line, column and text; more than ``max_errors`` of them fail the load
(as COPY's MAXERROR).

A large source is read by worker processes (see ``stage_table``): a task is a
4 MB stretch of a log file or a batch of small song files, the workers parse
and encode the tasks while this process sends the finished rows, in order, to
the one COPY. PostgreSQL parses the rows on its own core meanwhile. The
workers fork from multiprocessing's server process, which imports the main
script again: a script that stages a large source needs the usual
``if __name__ == "__main__":`` guard. They never outlive this process,
however it ends (workers.py).

Rejected records go to the rejected_records table as they are found, in
batches between two COPYs of the table (RejectedRows): memory stays flat
however many there are, and the load keeps the first KEPT_REJECTED of them
(results.py) with the count of all.
"""

import contextlib
import io
import mmap
import os
import re
import sys
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from itertools import islice

import orjson
import psycopg2

from sparkify.engines.local_loader.json_records import MAX_RECORD_BYTES, UTF8_BOM, Record, read_records
from sparkify.engines.local_loader.row_encoder import COPY_OPTIONS, Column, RowEncoder, UnsupportedColumn, json_text
from sparkify.engines.local_loader.typed_decoder import TypedDecoder
from sparkify.engines.local_loader.workers import worker_pool
from sparkify.output.printable import printable
from sparkify.results import RAW_RECORD_BYTES, RAW_VALUE_BYTES, LoadError, RejectedRecord, TableLoad, too_many_rejected
from sparkify.sources import SourceError, SourceUnreachable, holds_nothing, open_source, source_name
from sparkify.sources.folder import open_file, read_file
from sparkify.sources.jsonpaths import JsonPathsError, source_jsonpaths
from sql_queries import COLUMNS

ROWS_PER_CHUNK = 256  # rejected records: small chunks, written while the next are built
TASK_BYTES = 4 * 1024 * 1024  # a log file is cut into tasks of this many bytes
PARSE_BYTES = 256 * 1024  # a task is parsed and encoded in pieces of this many bytes
SMALL_FILE_BYTES = 64 * 1024  # a file smaller than this is read whole, in a batch
SMALL_FILES_PER_TASK = 256
PARALLEL_MIN_BYTES = 32 * 1024 * 1024  # a smaller source is staged in this process...
PARALLEL_MIN_FILES = 20_000  # ...unless it has this many files: opening each one is the cost then
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def default_workers() -> int:
    """Worker processes for a large source: one per core, up to four.

    PostgreSQL's COPY takes a core of its own; on two cores the workers and the
    server share them, which still beats one process that parses while the
    server waits.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


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


# ---------------------------------------------------------------------------
# Tasks: what a worker process does
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: tuple
    paths: tuple


@dataclass
class FilesTask:
    """Whole small files, each (name, path, data): data is None when the worker reads path."""

    files: list


@dataclass
class RangeTask:
    """The lines of one file that start in [start, end): read from path, or given as data."""

    name: str
    path: str | None
    start: int
    end: int
    data: bytes | None = None  # None without a path: a line too long to hold starts here
    last: bool = False  # the file's last task


@dataclass
class Outcome:
    data: bytes = b""  # the COPY rows
    rows: int = 0
    rejected: list = field(default_factory=list)
    file_rows: list = field(default_factory=list)  # FilesTask: (name, rows) of each file
    lines: int = 0  # RangeTask: the lines it held; rejected records count lines from its start
    clean: bool = True  # RangeTask: every line held one whole object
    start: int = 0  # RangeTask: where its first line starts in the file


_encoders = {}
_typed_decoders = {}


def _encoder(spec: TableSpec) -> RowEncoder:
    encoder = _encoders.get(spec)
    if encoder is None:
        encoder = _encoders[spec] = RowEncoder(spec.columns, spec.paths)
    return encoder


def _typed(spec: TableSpec) -> TypedDecoder:
    """A worker keeps one per table: it learns what the table's columns hold (typed_decoder.learn)."""
    decoder = _typed_decoders.get(spec)
    if decoder is None:
        decoder = _typed_decoders[spec] = TypedDecoder(spec.columns, spec.paths)
    return decoder


def run_task(spec: TableSpec, task) -> Outcome:
    """Parse and encode one task (in a worker process, or in this one)."""
    if isinstance(task, FilesTask):
        return _run_files(spec, task)
    return _run_range(spec, task)


def _run_files(spec, task):
    """Small files are read whole: nothing is cut, so nothing can go wrong at a cut.

    A batch of files holding one object each is decoded typed; any other goes
    to the exact reader, file by file.
    """
    texts = [data if data is not None else read_file(path) for _, path, data in task.files]
    typed = _typed(spec)
    data = typed.encode_objects(texts)
    if data is not None:
        return Outcome(data=data, rows=len(texts), file_rows=[(name, 1) for name, _, _ in task.files])
    files = [(name, list(small_file_records(text))) for (name, _, _), text in zip(task.files, texts)]
    typed.learn([item.value for _, items in files for item in items if type(item) is Record])
    encoded, rejected, rows = _encode_read(spec, _encoder(spec), files)
    return Outcome(
        data=encoded,
        rows=sum(rows.values()),
        rejected=rejected,
        file_rows=[(name, rows[name]) for name, _, _ in task.files],
    )


def _encode_read(spec, encoder, files):
    """What the exact reader read, encoded: (COPY rows, rejected records, rows per file name).

    ``files`` are (file name, its Records and Rejecteds in reading order)
    pairs; the rejected records come out in reading order, the reader's and
    the converters' together, as the exact path rejects them one by one.
    """
    values, texts, where, rejected, rows = [], [], [], [], {}  # where: (name, line, place in the reading order)
    for name, items in files:
        count = 0
        for item in items:
            place = len(values) + len(rejected)
            if type(item) is Record:
                values.append(item.value)
                texts.append(item.text)
                where.append((name, item.line, place))
                count += 1
            else:
                rejected.append((place, RejectedRecord(spec.table, name, item.line, None, item.reason, None,
                                                       item.raw)))
        rows[name] = rows.get(name, 0) + count
    encoded, rejections = encoder.encode(values, texts)
    for position, rejection in rejections:
        name, line, place = where[position]
        rows[name] -= 1
        rejected.append((place, _value_rejected(spec.table, name, line, values[position], rejection)))
    rejected.sort(key=lambda item: item[0])
    return encoded, [record for _, record in rejected], rows


def _value_rejected(table, name, line, record, rejection):
    return RejectedRecord(
        table, name, line, rejection.column, f"{rejection.column} {rejection}",
        None if rejection.value is None else _raw_value(rejection.value),
        json_text(record, ascii_only=True)[:RAW_RECORD_BYTES],
    )


def _raw_value(value):
    """A rejected value's text: a string as it is, anything else as JSON (at most what the column holds)."""
    if type(value) is float:
        return repr(value)  # inf, which JSON would write as null
    return json_text(value[:RAW_VALUE_BYTES + 1] if type(value) is str else value, ascii_only=True)


def _run_range(spec, task):
    if task.path is None:  # the lines are given (read from a stream), or too long to hold (None)
        stop = None if task.data is None else len(task.data)
        return _encode_range(spec, task, task.start, task.data, 0, stop)
    with open_file(task.path) as stream:
        try:  # mapped, not read: each piece is copied out of the page cache once, as it is parsed
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # an empty file, or a file system that cannot map files
            return _encode_read_range(spec, task, stream)
        with mapped:
            first, stop = _line_bounds(mapped, task.start, min(task.end, len(mapped)))
            return _encode_range(spec, task, first, mapped, first, stop)


def _encode_read_range(spec, task, stream):
    """_run_range, reading the bytes the task may need instead of mapping the file.

    The window reaches MAX_RECORD_BYTES past the task's end, so that
    _line_bounds finds the end of its last line, or that it is too long, as
    it does in the whole file.
    """
    base = max(task.start - 1, 0)
    stream.seek(base)
    window = stream.read(task.end - base + MAX_RECORD_BYTES + 1)
    first, stop = _line_bounds(window, task.start - base, min(task.end - base, len(window)))
    return _encode_range(spec, task, base + first, window, first, stop)


def _encode_range(spec, task, start, text, begin, stop):
    """The Outcome of the lines text[begin:stop], which start at byte ``start`` of the file.

    ``text`` is bytes, or the file mapped into memory; ``stop`` is None when
    a line is too long to hold: the exact reader takes it.
    """
    if stop is None:
        return Outcome(clean=False, start=start)
    if start == 0 and text[begin:begin + len(UTF8_BOM)] == UTF8_BOM:
        begin += len(UTF8_BOM)
    encoder, typed = _encoder(spec), _typed(spec)
    encoded, rejected, rows = [], [], 0
    line = 0  # lines before this piece
    for piece in _pieces(text, PARSE_BYTES, begin, stop):
        if len(piece) > MAX_RECORD_BYTES and max(map(len, piece.split(b"\n"))) > MAX_RECORD_BYTES:
            return Outcome(clean=False, start=start)  # a line over the limit: the exact reader rejects it
        count = _count_lines(piece)
        body = piece[:-1] if piece.endswith(b"\n") else piece
        data = None if _TWO_ON_A_LINE.search(body) else typed.encode(body, count)
        if data is not None:
            encoded.append(data)
            rows += count
            line += count
            continue
        values = whole_line_objects(body, count)
        if values is None:
            return Outcome(clean=False, start=start)
        typed.learn(values)
        data, rejections = encoder.encode(values, _Lines(body))
        encoded.append(data)
        rows += len(values) - len(rejections)
        rejected.extend(
            _value_rejected(spec.table, task.name, line + position + 1, values[position], rejection)
            for position, rejection in rejections
        )
        line += count
    return Outcome(data=b"".join(encoded), rows=rows, rejected=rejected, lines=line, start=start)


class _Lines:
    """The lines of ``text``, split only if one is asked for (a number in a text column: rare)."""

    def __init__(self, text):
        self.text = text
        self.lines = None

    def __getitem__(self, index):
        if self.lines is None:
            self.lines = self.text.split(b"\n")
        return self.lines[index]


def _count_lines(data):
    """Lines in ``data``. bytes.count looks at each byte in turn; replace() finds them with memchr."""
    newlines = len(data) - len(data.replace(b"\n", b""))
    return newlines + (1 if data and not data.endswith(b"\n") else 0)


def _pieces(data, size, position, stop):
    """``data[position:stop]`` in pieces of whole lines, each about ``size`` bytes: parsed
    objects take 18 times their text."""
    while position < stop:
        end = data.find(b"\n", position + size - 1, stop)
        end = stop if end < 0 else end + 1
        yield data[position:end]
        position = end


def _line_bounds(data, start, end):
    """(first, stop): data[first:stop] are the lines of ``data`` (a file's bytes) that start in [start, end).

    ``stop`` is None when the last of them is longer than MAX_RECORD_BYTES:
    the exact reader, which rejects such a line, reads on from ``first``.
    Finding the first line looks no further than ``end``, so a long line is
    read once, by the task it starts in, not by every task it spans.
    """
    first = start
    if start > 0:  # the line that started before ``start`` belongs to the task before
        newline = data.find(b"\n", start - 1, end)
        first = end if newline < 0 else newline + 1
    if first >= end:
        return first, first
    if data[end - 1:end] == b"\n":
        return first, end
    limit = min(len(data), end + MAX_RECORD_BYTES + 1)
    newline = data.find(b"\n", end, limit)
    if newline >= 0:
        return first, newline + 1
    if limit - end > MAX_RECORD_BYTES:
        return first, None
    return first, limit


# a line holding two objects: "}" then "," then "{" with only JSON whitespace between
_TWO_ON_A_LINE = re.compile(rb"\}[ \t\r]*,[ \t\r]*\{")


def whole_line_objects(text: bytes, lines: int) -> list[dict] | None:
    """The objects of ``text`` if each of its ``lines`` lines is one whole JSON object, else None.

    Then the exact reader (json_records.py) would read them the same way, one
    record per line, whatever came before. The fast way parses the lines as one
    JSON array (a newline becomes a comma): fewer values than lines would mean
    an object spread over lines, more a line with two; as a second object on a
    line needs "}," before it, a block without that holds one per line.
    """
    if not text:
        return None
    values = None
    if not _TWO_ON_A_LINE.search(text):
        try:
            values = orjson.loads(b"[" + text.replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            return None  # some line is not one whole value
        if len(values) != lines:
            return None
    else:
        try:
            values = list(map(orjson.loads, text.split(b"\n")))
        except orjson.JSONDecodeError:
            return None
    if set(map(type, values)) != {dict}:
        return None
    return values


# ---------------------------------------------------------------------------
# Planning the tasks and running them in order
# ---------------------------------------------------------------------------


def plan_tasks(files):
    """The tasks that stage ``files`` (SourceFile objects), in file order."""
    batch = []
    for source_file in files:
        if source_file.size < SMALL_FILE_BYTES:
            batch.append(source_file)
            if len(batch) >= SMALL_FILES_PER_TASK:
                yield _files_task(batch)
                batch = []
            continue
        if batch:
            yield _files_task(batch)
            batch = []
        yield from _range_tasks(source_file)
    if batch:
        yield _files_task(batch)


def _files_task(batch):
    return FilesTask([
        (item.name, item.path, None) if item.path else (item.name, None, _read_whole(item))
        for item in batch
    ])


def _read_whole(source_file):
    with source_file.open() as stream:
        return stream.read()


def _range_tasks(source_file):
    if source_file.path:
        tasks = (
            RangeTask(source_file.name, source_file.path, start, min(start + TASK_BYTES, source_file.size))
            for start in range(0, source_file.size, TASK_BYTES)
        )
    else:
        tasks = _streamed_tasks(source_file)
    previous = None
    for task in tasks:
        if previous is not None:
            yield previous
        previous = task
    if previous is None:
        previous = RangeTask(source_file.name, None, 0, 0, data=b"")
    previous.last = True
    yield previous


def _streamed_tasks(source_file):
    """Tasks of whole lines read here from a stream (an S3 object, say)."""
    with source_file.open() as stream:
        carry = b""
        offset = 0  # where carry starts in the file
        while True:
            block = stream.read(TASK_BYTES)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_RECORD_BYTES + TASK_BYTES:
                    # a line too long to hold: the exact reader reads the rest of the file
                    yield RangeTask(source_file.name, None, offset, offset + len(data), data=None)
                    return
                carry = data  # a line longer than a task: read on
                continue
            yield RangeTask(source_file.name, None, offset, offset + cut, data=data[:cut])
            carry = data[cut:]
            offset += cut
        if carry:
            yield RangeTask(source_file.name, None, offset, offset + len(carry), data=carry)


def run_tasks(spec, tasks, workers):
    """(task, outcome) of each task, in order; ``workers`` processes run them ahead."""
    if not workers:
        for task in tasks:
            try:
                outcome = run_task(spec, task)
            except OSError as error:
                raise _unreadable(error) from None
            yield task, outcome
        return
    with worker_pool(workers) as pool:
        pending = deque()
        tasks = iter(tasks)
        while True:
            try:
                while len(pending) < 2 * workers + 2:
                    task = next(tasks, None)
                    if task is None:
                        break
                    pending.append((task, pool.submit(run_task, spec, task)))
                if not pending:
                    return
                task, future = pending.popleft()
                outcome = future.result()
            except BrokenProcessPool:
                raise LoadError(
                    "a worker process of the loader died (killed, out of memory, or a source file "
                    "cut short while it was read?): run etl.py again, with --workers 1 or --workers 0 "
                    "to use less memory"
                ) from None
            except OSError as error:
                raise _unreadable(error) from None
            yield task, outcome


def _unreadable(error):
    where = printable(source_name(error.filename)) if error.filename else "a source file"
    return LoadError(f"cannot read {where}: {error.strerror or error} (did it change during the run?)")


# ---------------------------------------------------------------------------
# Staging one table
# ---------------------------------------------------------------------------


def stage_table(cursor, table, files, paths_for, max_errors, progress=None, into=None, workers=None) -> TableLoad:
    """Stage every record of ``files`` (SourceFile objects) into ``table``.

    ``paths_for(columns)`` gives the JSON path of each column. ``into`` names
    another table with ``table``'s columns to copy into instead (an
    incremental run's temporary table). ``workers`` is the number of worker
    processes; by default, none for a source under PARALLEL_MIN_BYTES with
    fewer than PARALLEL_MIN_FILES files, else default_workers().
    """
    started = time.perf_counter()
    columns = table_columns(cursor, table)
    try:
        spec = TableSpec(table, tuple(columns), tuple(tuple(path) for path in paths_for(columns)))
        encoder = _encoder(spec)  # here first: a column it cannot stage fails before any work
    except UnsupportedColumn as error:
        raise LoadError(str(error)) from None
    if workers is None:
        large = sum(item.size for item in files) >= PARALLEL_MIN_BYTES or len(files) >= PARALLEL_MIN_FILES
        workers = default_workers() if large else 0
    result = TableLoad(table=table)
    rejects = RejectedRows(result, max_errors)
    by_name = {item.name: item for item in files}
    lines_before = {}  # file name -> lines held by its tasks so far
    rows_of = {}  # file name -> rows staged from it so far
    read_here = set()  # files whose rest the exact reader read in this process

    shown = {}  # file name -> bytes of it the progress bar has been told of

    def advance(name, size):
        shown[name] = shown.get(name, 0) + size
        if progress is not None:
            progress(size)

    def file_done(name, rows):
        source_file = by_name[name]
        result.files += 1
        result.bytes += source_file.size
        result.file_rows[name] = rows
        if progress is not None:
            progress(source_file.size - shown.pop(name, 0))

    def blocks():
        for task, outcome in run_tasks(spec, plan_tasks(files), workers):
            if isinstance(task, FilesTask):  # whole files, a batch at a time
                for record in outcome.rejected:
                    rejects.add(record)
                result.rows += outcome.rows
                yield outcome.data
                size = sum(by_name[name].size for name, _ in outcome.file_rows)
                result.files += len(outcome.file_rows)
                result.bytes += size
                result.file_rows.update(outcome.file_rows)
                if progress is not None:
                    progress(size)
                continue
            name = task.name
            if name in read_here:
                continue
            offset = lines_before.get(name, 0)
            if not outcome.clean:
                # a line that is not one whole object: read the rest of the file exactly, here
                read_here.add(name)
                rows = rows_of.pop(name, 0)
                for data, count in _read_rest(spec, encoder, by_name[name], outcome.start, offset, result, rejects):
                    rows += count
                    yield data
                file_done(name, rows)
                continue
            for record in outcome.rejected:
                rejects.add(replace(record, line_number=record.line_number + offset))
            lines_before[name] = offset + outcome.lines
            rows_of[name] = rows_of.get(name, 0) + outcome.rows
            result.rows += outcome.rows
            yield outcome.data
            if task.last:
                file_done(name, rows_of.pop(name))
            else:
                advance(name, min(task.end, by_name[name].size) - task.start)  # a large file shows progress as it goes

    chunks = blocks()
    try:
        while True:  # one COPY, unless rejected records must be sent on the way (RejectedRows)
            batch = _Until(chunks, rejects.full)
            copy_rows(cursor, into or table, [column.name for column in columns], batch, options=COPY_OPTIONS)
            rejects.send(cursor)
            if batch.finished:
                break
    finally:
        chunks.close()  # after an error: the worker pool is shut down now
    if result.rows:
        result.all_null_columns = all_null_columns(cursor, into or table, [column.name for column in columns])
    result.seconds = time.perf_counter() - started
    return result


def all_null_columns(cursor, table, column_names) -> list[str]:
    """The columns of ``table`` NULL in every row. One EXISTS each, which stops at the first
    value: a column that holds values costs a row or so, one that holds none a scan."""
    cursor.execute(
        "SELECT " + ", ".join(
            f"EXISTS (SELECT 1 FROM {table} WHERE {name} IS NOT NULL)" for name in column_names
        )
    )
    return [name for name, seen in zip(column_names, cursor.fetchone()) if not seen]


READ_HERE_BATCH = 4096  # records read and encoded at a time by _read_rest


def _read_rest(spec, encoder, source_file, start, lines_before, result, rejects):
    """(COPY rows, rows) of ``source_file`` from byte ``start`` on, read by the exact reader."""
    name = source_file.name
    with source_file.open() as stream:
        _skip(stream, start)
        items = read_records(stream, first_line=lines_before + 1, at_start=start == 0)
        while batch := list(islice(items, READ_HERE_BATCH)):
            encoded, rejected, rows = _encode_read(spec, encoder, [(name, batch)])
            for record in rejected:
                rejects.add(record)
            result.rows += rows[name]
            yield encoded, rows[name]


def _skip(stream, start):
    if not start:
        return
    try:
        stream.seek(start)
    except (AttributeError, OSError, io.UnsupportedOperation):  # a stream that only reads on
        while start > 0:
            skipped = stream.read(min(start, TASK_BYTES))
            if not skipped:
                return
            start -= len(skipped)


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
            for chunk in self._chunks:
                if chunk:  # an empty one would tell psycopg2 the data had ended
                    return chunk
            return b""
        except BaseException as error:
            self.error = error
            raise


def copy_rows(cursor, table, column_names, chunks, options=None):
    """Stream an iterable of bytes, COPY rows, into ``table``.

    ``options`` are COPY's, as "FORMAT csv, ..."; without, COPY's text format.

    When the connection dies during the COPY, psycopg2 prints an internal
    SystemError through sys.excepthook and raises it, so the person would see
    a traceback and no word of the lost connection: the hook is muted for the
    COPY, and the error raised is the OperationalError it is.
    """
    stream = _RowStream(iter(chunks))
    sql = f"COPY {table} ({', '.join(column_names)}) FROM STDIN"
    if options:
        sql += f" ({options})"
    excepthook, sys.excepthook = sys.excepthook, _ignore
    try:
        cursor.copy_expert(sql, stream, size=65536)
    except BaseException as error:
        close = getattr(chunks, "close", None)
        if close is not None:  # a generator over the worker pool: its finally shuts the pool down, now
            with contextlib.suppress(Exception):
                close()
        if not isinstance(error, Exception):
            raise
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
    """Text lines joined into chunks of bytes."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= ROWS_PER_CHUNK:
            yield "".join(batch).encode("utf-8")
            batch = []
    if batch:
        yield "".join(batch).encode("utf-8")


def small_file_records(data: bytes):
    """The records of a small file's bytes; a file holding one object takes a short cut.

    Song files hold one object each, and there are hundreds of thousands of
    them: parsing such a file in one call saves the streaming reader's set-up
    per file. Anything else goes to read_records().
    """
    text = data.strip(b" \t\r\n")
    if text[:1] == b"{" and text[-1:] == b"}":
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(value) is dict:
                return [Record(1 + data.count(b"\n", 0, data.index(b"{")), value, text)]
    return read_records(io.BytesIO(data))


REJECTED_PER_COPY = 10_000  # rejected records held before they are sent to rejected_records...
REJECTED_COPY_BYTES = 8 * 1024 * 1024  # ...or this many bytes of them: memory stays flat, whatever their number
REJECTED_COLUMNS = list(COLUMNS["rejected_records"])


class RejectedRows:
    """A table's rejected records as they are found: counted and kept in ``result`` (TableLoad.reject),
    held against ``max_errors`` (as COPY's MAXERROR), and sent to rejected_records in batches.

    A batch can only be sent between two COPYs on the connection: stage_table
    ends the table's COPY when one is full (``full()``), sends it (``send()``)
    and goes on in a new COPY. Everything stays in the run's transaction.
    """

    def __init__(self, result, max_errors):
        self.result = result
        self.max_errors = max_errors
        self.lines = []
        self.size = 0

    def add(self, record):
        result = self.result
        result.reject(record)
        line = rejected_line(record)
        self.lines.append(line)
        self.size += len(line)
        if result.rejected_count > self.max_errors:
            raise LoadError(too_many_rejected(result.table, [record], result.rejected_count, self.max_errors),
                            result.rejected, result.rejected_count)

    def full(self) -> bool:
        return len(self.lines) >= REJECTED_PER_COPY or self.size >= REJECTED_COPY_BYTES

    def send(self, cursor):
        if self.lines:
            copy_rows(cursor, "rejected_records", REJECTED_COLUMNS, _chunked(self.lines))
            self.lines, self.size = [], 0


class _Until:
    """The chunks of ``chunks`` until ``full()`` says so after one; ``finished`` once they are all given."""

    def __init__(self, chunks, full):
        self.chunks = chunks
        self.full = full
        self.finished = False

    def __iter__(self):
        for chunk in self.chunks:
            yield chunk
            if self.full():
                return
        self.finished = True


def stage_source(
    cursor, location, max_errors=0, progress=None, files=None, into=None, workers=None
) -> list[TableLoad]:
    """Stage a whole source (song_data/, log_data/, log_json_path.json).

    ``location`` is a folder or a source object (sparkify/sources/). ``progress``,
    if given, is told the total size (``progress.total``) and each file's size
    as it is read (``progress.update(bytes)``), as tqdm is. ``files``, if
    given, maps "log_data" and "song_data" to the files to stage instead of
    all of them; ``into`` maps a staging table to the table to copy into.
    ``workers``: see stage_table().
    """
    source = open_source(location)
    try:
        source.check()
        if files is not None:
            event_files, song_files = files["log_data"], files["song_data"]
        else:
            event_files, song_files = source.files("log_data"), source.files("song_data")
    except SourceUnreachable:
        raise  # not the source's fault: the network's (exit status 2)
    except (FileNotFoundError, SourceError) as error:
        raise LoadError(str(error)) from None
    if not event_files and not song_files:
        raise LoadError(holds_nothing(source.label))
    try:
        event_paths, jsonpaths_name = source_jsonpaths(source)
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
    warnings = getattr(source, "warnings", [])
    loads = []
    for table, prefix, table_files, paths in (
        ("staging_events", "log_data", event_files, events_paths),
        ("staging_songs", "song_data", song_files, songs_paths),
    ):
        load = stage_table(cursor, table, table_files, paths, max_errors, update, into.get(table), workers)
        load.warnings = [line for line in warnings if f"/{prefix}/" in line]
        loads.append(load)
    return loads


def rejected_line(record) -> str:
    """A rejected record as a line of COPY text for rejected_records."""
    return "\t".join(
        "\\N" if value is None else str(value).replace("\x00", "").translate(_COPY_ESCAPES)
        for value in (getattr(record, column) for column in REJECTED_COLUMNS)
    ) + "\n"


def save_rejected(cursor, records) -> None:
    """Keep ``records`` in the rejected_records table."""
    copy_rows(cursor, "rejected_records", REJECTED_COLUMNS, _chunked(map(rejected_line, records)))
