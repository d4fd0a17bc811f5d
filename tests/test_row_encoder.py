"""The loader's fast paths give exactly what its exact paths give.

- row_encoder.py checks and writes a whole block of records at once, and hands
  the records it is unsure of to the exact converters one by one: whatever the
  values, the rows PostgreSQL stores and the records rejected are the same as
  when every record goes through the exact converters.
- staging.py parses a block of lines as one JSON array when each line
  holds one whole object: then the exact reader (json_records.py) reads those
  lines the same way, and where a line does not, the exact reader takes over.
- A file cut into tasks at any size stages the same rows, and rejects the same
  records at the same lines, as the file read whole.
"""

import errno
import io
import json
import math
import mmap
import os
import time

import pytest
from helpers import JSONPATHS, event, song
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sparkify.engines.local_loader import staging as staging_loader
from sparkify.engines.local_loader.json_records import Record, read_records
from sparkify.engines.local_loader.row_encoder import COPY_OPTIONS, Column, Rejection, RowEncoder, UnsupportedColumn
from sparkify.engines.local_loader.staging import LoadError, TableSpec, copy_rows, stage_table, whole_line_objects
from sparkify.engines.local_loader.typed_decoder import TypedDecoder
from sparkify.results import KEPT_REJECTED
from sparkify.sources.folder import LocalSource
from sparkify.sources.jsonpaths import read_jsonpaths

# ---------------------------------------------------------------------------
# Blocks of records: fast path == exact converters
# ---------------------------------------------------------------------------

COLUMNS = [
    Column("short_text", "character varying", 8, True),
    Column("long_text", "character varying", 1024, True),
    Column("small", "smallint", None, True),
    Column("number", "integer", None, True),
    Column("big", "bigint", None, True),
    Column("real_number", "double precision", None, True),
    Column("required", "bigint", None, False),
]
KEYS = [column.name for column in COLUMNS]
DDL = """
CREATE TEMPORARY TABLE encoded (
    short_text VARCHAR(8), long_text VARCHAR(1024), small SMALLINT, number INTEGER,
    big BIGINT, real_number DOUBLE PRECISION, required BIGINT NOT NULL,
    position SERIAL
)
"""

# strings that exercise every escape and every check of the fast path
awkward_text = st.one_of(
    st.sampled_from([
        "", "null", "],[", '"', '\\"', "\\", "a,b", "tab\there", "new\nline", "\r", "\x00", "\x7f", "\u2028",
        "é" * 3, "é" * 5, "💃" * 2, "💃" * 3, "12", "007", " 12", "-5", "0x1F", "1_000", "1e3", "NaN",
        "x" * 8, "x" * 9, "\ud800", "²", "１２",
    ]),
    st.text(max_size=12),
)
numbers = st.one_of(
    st.integers(-(2**15) - 2, 2**15 + 2),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e16, 5e-324, 1.5, 246.30812, 1e300, 2**60 + 2**36 + 1, 2**64 - 1]),
    st.sampled_from([math.inf, -math.inf]),  # the standard library reads 1e400 as inf
)
ABSENT = object()  # the key is left out of the record
values = st.one_of(
    st.none(), st.just(ABSENT), st.booleans(), numbers, awkward_text,
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def typical(column):
    """Mostly the values a column usually holds, so that whole blocks take the fast path."""
    if column.name.endswith("text"):
        plain = st.text(alphabet="abcé ,\"\\[]💃", max_size=6)
        usual = st.one_of(st.none(), plain, plain, st.text(alphabet="ab\\\n\t\x00", max_size=4))
    elif column.type == "double precision":
        usual = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))
    elif not column.nullable:
        usual = st.integers(0, 100)
    else:
        usual = st.one_of(st.integers(0, 100), st.sampled_from(["", "42"]) if column.name == "number" else st.none())
    return st.one_of(usual, usual, usual, usual, usual, values)


records = st.lists(
    st.fixed_dictionaries({column.name: typical(column) for column in COLUMNS}).map(
        lambda record: {key: value for key, value in record.items() if value is not ABSENT}
    ),
    max_size=40,
)


def stored(connection, data):
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE encoded")
        copy_rows(cursor, "encoded", KEYS, [data], options=COPY_OPTIONS)
        cursor.execute(f"SELECT {', '.join(KEYS)} FROM encoded ORDER BY position")
        return cursor.fetchall()


def exactly(encoder, records):
    """Every record through the exact converters, one at a time."""
    rows, rejected = [], []
    for index, values in enumerate(encoder.values(records)):
        try:
            rows.append(encoder.convert_row(values))
        except Rejection as rejection:
            rejected.append((index, rejection.column, str(rejection)))
    return b"".join(rows), rejected


@pytest.fixture(scope="module")
def encoded_table(warehouse):
    with warehouse.connection.cursor() as cursor:
        cursor.execute(DDL)
    warehouse.connection.commit()
    return warehouse.connection


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records)
def test_a_block_is_stored_and_rejected_as_record_by_record(encoded_table, records):
    encoder = RowEncoder(COLUMNS, [(key,) for key in KEYS])
    data, rejections = encoder.encode(records)
    expected_data, expected_rejected = exactly(encoder, records)
    assert [(index, rejection.column, str(rejection)) for index, rejection in rejections] == expected_rejected
    assert stored(encoded_table, data) == stored(encoded_table, expected_data)


def test_typical_blocks_take_the_fast_path(monkeypatch):
    """The check above would pass if nothing took the fast path: this one would not."""
    encoder = RowEncoder(COLUMNS, [(key,) for key in KEYS])
    block = [
        {"short_text": "abc", "long_text": 'say "hi", \\o/ é', "small": 3, "number": "", "big": 2**40,
         "real_number": 1.5, "required": 7},
        {"short_text": None, "long_text": "a, [b] C:\\new", "small": None, "number": "42", "big": None,
         "real_number": 2, "required": 8},
    ]
    monkeypatch.setattr(encoder, "convert_row", lambda row: pytest.fail(f"slow path for {row}"))
    data, rejections = encoder.encode(block * 100)
    assert rejections == []
    assert data.count(b"\n") == 200


# ---------------------------------------------------------------------------
# Lines decoded typed (typed_decoder.py): the rows of the exact converters
# ---------------------------------------------------------------------------

PATHS = [(key,) for key in KEYS]


def typed_decoder(learned_from=()):
    decoder = TypedDecoder(COLUMNS, PATHS)
    decoder.learn(list(learned_from))
    return decoder


def as_lines(records, ascii_only=True):
    """JSON lines; a lone surrogate written raw is not UTF-8, and inf is Infinity: no path takes those."""
    return [json.dumps(record, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass") for record in records]


def typed_and_exact(decoder, text, lines):
    """(the typed decoder's rows, the exact converters' rows) for ``text``, or None if it is not typed."""
    data = decoder.encode(text, lines)
    if data is None:
        return None
    read = exact_reading(text)
    assert all(value is not None for _, value in read), "typed, but the exact reader rejects a line"
    expected, rejected = exactly(RowEncoder(COLUMNS, PATHS), [value for _, value in read])
    assert rejected == [], "typed, but the exact converters reject a record"
    return data, expected


def typed_and_exact_files(decoder, texts):
    """As typed_and_exact, for whole files that each should hold one object (song files)."""
    data = decoder.encode_objects(texts)
    if data is None:
        return None
    read = [list(staging_loader.small_file_records(text)) for text in texts]
    assert all(len(items) == 1 and isinstance(items[0], Record) for items in read), "typed, but not one object each"
    expected, rejected = exactly(RowEncoder(COLUMNS, PATHS), [items[0].value for items in read])
    assert rejected == [], "typed, but the exact converters reject a record"
    return data, expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records, ascii_only=st.booleans(), learned=st.booleans())
def test_typed_lines_are_stored_as_record_by_record(encoded_table, records, ascii_only, learned):
    lines = as_lines(records, ascii_only)
    taught = records if learned else ()
    typed, exact = [], []
    for line in lines:  # each line alone: most of them decode typed or not, whatever the others hold
        both = typed_and_exact(typed_decoder(taught), line, 1)
        if both:
            typed.append(both[0])
            exact.append(both[1])
    for both in (typed_and_exact(typed_decoder(taught), b"\n".join(lines), len(lines)),
                 typed_and_exact_files(typed_decoder(taught), lines)):  # the lines as files of one object each
        if both:
            typed.append(both[0])
            exact.append(both[1])
    assert signed(stored(encoded_table, b"".join(typed))) == signed(stored(encoded_table, b"".join(exact)))


def signed(rows):
    """``rows`` compared with the sign of zero: -0.0 == 0.0, but a double column stores either."""
    return repr(rows)


TRICKY_LINES = [  # JSON escapes written as such (rb''), raw bytes where the comment says
    rb'{"required": 1, "real_number": 1e400}', rb'{"required": 1, "real_number": -1e-400}',
    rb'{"required": 1, "real_number": 2.4703282292062328e-324}', rb'{"required": 1, "real_number": -0}',
    rb'{"required": 1, "real_number": 123456789012345678901234567890}',
    rb'{"required": 1, "real_number": 1' + b"0" * 400 + b"}",
    rb'{"required": 1, "real_number": 0.1000000000000000055511151231257827021181583404541015625}',
    rb'{"required": 1, "real_number": NaN}', rb'{"required": 1, "real_number": "1.5"}',
    rb'{"required": 1, "required": 2}', rb'{"required": 1, "number": "", "big": ""}', rb'{"required": ""}',
    rb'{"required": "007"}', rb'{"required": " 7"}', rb'{"required": "-7"}', rb'{"required": "\u0661"}',
    rb'{"required": 9223372036854775807}', rb'{"required": 9223372036854775808}',
    rb'{"required": "9223372036854775807"}', rb'{"required": "99999999999999999999"}',
    rb'{"required": 1, "small": 32767}', rb'{"required": 1, "small": -32769}', rb'{"required": 1, "small": 1.0}',
    rb'{"required": 1, "small": true}', rb'{"required": 1, "long_text": 5}', rb'{"required": 1, "long_text": null}',
    rb'{"required": 1, "short_text": "\u00e9\u00e9\u00e9\u00e9"}',
    rb'{"required": 1, "short_text": "\u00e9\u00e9\u00e9\u00e9\u00e9"}',
    rb'{"required": 1, "short_text": "\ud83d\udc83\ud83d\udc83"}',
    rb'{"required": 1, "short_text": "\ud83d\udc83\ud83d\udc83\ud83d\udc83"}',
    rb'{"required": 1, "short_text": "a\u0000"}', rb'{"required": 1, "short_text": "a\nb"}',
    rb'{"required": 1, "short_text": "a\tb"}', rb'{"required": 1, "short_text": "a\u2028"}',
    b'{"required": 1, "short_text": "a\tb"}',  # a raw tab: not JSON
    rb'{"required": 1, "long_text": "\ud800"}', rb'{"required": 1, "long_text": "\\\"],["}',
    rb'{"required": 1, "long_text": "' + rb"\u00e9" * 256 + b'"}',
    rb'{"required": 1, "long_text": "' + rb"\u00e9" * 257 + b'"}',
    rb'{"required": 1, "long_text": "' + "é".encode() * 300 + b'"}',  # raw UTF-8
    rb'{"required": 1, "long_text": "' + "é".encode() * 600 + b'"}',  # 600 characters, 1,200 bytes
    rb'{"required": 1, "long_text": "' + rb"\u00e9" * 600 + b'"}',
    rb'{"required": 1}, {"required": 2}', rb'{"required": 1} {"required": 2}',
    b'{"required": 1, "long_text": "\xff"}',  # not UTF-8
    b'{"required": 1, "extra": "\xff"}', b'{"required": 1, "ex\xfftra": 1}',  # not UTF-8, in a key no column maps
    b'{"required": 1, "extra": "\xed\xa0\x80"}',  # a UTF-16 surrogate written as UTF-8
    rb'{"required": 1, "extra": {"deep": [1, 2, {"x": null}]}}',
    rb'{"required": 1, "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"required": 1}\r', b' {"required": 1} ', b'{"required": 1,}', b"[1]", b"{}",
]


@pytest.mark.parametrize("line", TRICKY_LINES, ids=[line[:60].decode("utf-8", "replace") for line in TRICKY_LINES])
def test_typed_lines_agree_with_the_exact_converters_on_tricky_lines(encoded_table, line):
    digits = [{"required": "1", "number": "1", "big": "1", "small": "1"}]
    long_strings = [{"short_text": "x" * 8, "long_text": "x" * 1024}]
    for decoder_lessons in ((), digits, long_strings):
        decoder = typed_decoder(learned_from=decoder_lessons)
        both = typed_and_exact(decoder, line, 1)
        if both:
            assert signed(stored(encoded_table, both[0])) == signed(stored(encoded_table, both[1]))
        for text in (line, b"\n  " + line + b"\n\n", b"\xef\xbb\xbf" + line, line + b"\n" + line):  # as a file
            both = typed_and_exact_files(typed_decoder(learned_from=decoder_lessons), [text])
            if both:
                assert signed(stored(encoded_table, both[0])) == signed(stored(encoded_table, both[1]))


def test_typical_lines_decode_typed_once_a_block_has_shown_what_their_columns_hold(encoded_table):
    """The checks above would pass if nothing decoded typed: this one would not."""
    records = [
        {"short_text": "abc", "long_text": 'say "hi", \\o/ é 💃', "small": 3, "number": "", "big": 2**40,
         "real_number": 1.5, "required": 7},
        {"short_text": None, "long_text": "a, [b] C:\\new", "small": None, "number": "42", "big": None,
         "real_number": 2, "required": 8},
    ] * 100
    text = b"\n".join(as_lines(records, ascii_only=False))
    decoder = typed_decoder()
    assert decoder.encode(text, 200) is None  # "number" holds strings; "abc" is over 8/4 characters
    decoder.learn(records)
    assert decoder.digit_columns == {KEYS.index("number")}
    assert decoder.long_columns == {KEYS.index("short_text")}
    data = decoder.encode(text, 200)
    assert data is not None
    assert stored(encoded_table, data) == stored(encoded_table, RowEncoder(COLUMNS, PATHS).encode(records)[0])


def test_song_files_are_decoded_typed_after_their_first_batch(warehouse, monkeypatch):
    songs = [json.dumps(song(song_id=f"SO{number:016d}")).encode() for number in range(600)]
    with warehouse.connection.cursor() as cursor:
        columns = staging_loader.table_columns(cursor, "staging_songs")
    warehouse.connection.rollback()
    spec = TableSpec("staging_songs", tuple(columns), tuple((column.name,) for column in columns))
    monkeypatch.setattr(staging_loader, "_typed_decoders", {})
    slow = []
    encode = RowEncoder.encode
    monkeypatch.setattr(
        RowEncoder, "encode", lambda self, values, texts=None: slow.append(len(values)) or encode(self, values, texts)
    )
    outcomes = [
        staging_loader.run_task(spec, staging_loader.FilesTask([(f"f{n}", None, text) for n, text in enumerate(batch)]))
        for batch in (songs[:200], songs[200:400], songs[400:])
    ]
    assert [outcome.rows for outcome in outcomes] == [200, 200, 200]
    assert slow == [200], "the slower path encodes the first batch only (artist_id is over 32/4 characters)"


def test_a_log_file_is_decoded_typed_after_its_first_block(warehouse, monkeypatch):
    lines = [json.dumps(event(itemInSession=item)).encode() for item in range(2000)]
    with warehouse.connection.cursor() as cursor:
        columns = staging_loader.table_columns(cursor, "staging_events")
    warehouse.connection.rollback()
    spec = TableSpec("staging_events", tuple(columns), tuple(read_jsonpaths(json.dumps(JSONPATHS))))
    monkeypatch.setattr(staging_loader, "_typed_decoders", {})  # one that has learned nothing yet
    monkeypatch.setattr(staging_loader, "PARSE_BYTES", 4096)
    slow = []
    encode = RowEncoder.encode
    monkeypatch.setattr(
        RowEncoder, "encode", lambda self, values, texts=None: slow.append(len(values)) or encode(self, values, texts)
    )
    task = staging_loader.RangeTask("events.json", None, 0, 0, data=b"\n".join(lines) + b"\n", last=True)
    outcome = staging_loader.run_task(spec, task)
    assert outcome.rows == 2000 and not outcome.rejected
    assert 0 < sum(slow) < 100, "the slower path encodes the first block only (userId holds strings)"


# ---------------------------------------------------------------------------
# Lines: one whole object each, or the exact reader's turn
# ---------------------------------------------------------------------------

LINES = [
    b'{"a": 1}', b'{"b": "x},{y"}', b"{}", b' {"c": [1, 2]} \r', b"", b"   ", b"[1]", b"2", b"null",
    b'{"a": 1}, {"b": 2}', b'{"a": 1} {"b": 2}', b'{"a": 1},{"b": 2}', b'{"a": [{"x": 1}', b'{"y": 2}]}',
    b'{"a": [1', b"2]}", b'{"a":', b"1}", b'{"bad": tru}', b"\xef\xbb\xbf{}", b'{"d": "\\u00e9"}', b"}", b"{",
]


def exact_reading(text):
    return [(item.line, item.value) if isinstance(item, Record) else (item.line, None) for item in
            read_records(io.BytesIO(text))]


@pytest.mark.parametrize("lines", [
    pytest.param([b'{"a": [{"x": 1}', b'{"y": 2}]}', b'{"b": 1},{"c": 2}'], id="a split and a merge that even out"),
    pytest.param([b'{"a": [1', b'2]}'], id="an object over two lines that a comma would join"),
    pytest.param([b'{"a": 1}, {"b": 2}'], id="two objects on a line"),
    pytest.param([b'{"a": 1}', b""], id="a blank line"),
    pytest.param([b'{"b": "x},{y"}', b'{"a": 1}'], id="a string that looks like a cut"),
    pytest.param([b'{"a": 1}\r', b'{"b": 2}\r'], id="CRLF line ends"),
])
def test_whole_line_objects_agree_with_the_exact_reader_on_tricky_lines(lines):
    text = b"\n".join(lines)
    objects = whole_line_objects(text, len(lines))
    if objects is not None:
        assert [(number, value) for number, value in enumerate(objects, 1)] == exact_reading(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=8))
def test_whole_line_objects_agree_with_the_exact_reader_on_any_lines(lines):
    text = b"\n".join(lines)
    objects = whole_line_objects(text, len(lines))
    if objects is not None:
        assert [(number, value) for number, value in enumerate(objects, 1)] == exact_reading(text)


def test_whole_line_objects_take_plain_lines():
    lines = [json.dumps(event(itemInSession=item)).encode() for item in range(50)]
    assert whole_line_objects(b"\n".join(lines), 50) == [json.loads(line) for line in lines]


# ---------------------------------------------------------------------------
# A file cut into tasks of any size: the same rows, the same rejections
# ---------------------------------------------------------------------------

GOOD = json.dumps(event()).encode()
FILE_LINES = [
    GOOD, GOOD.replace(b'"Kaylee"', b'"K\\u00e4the"'), json.dumps(event(sessionId="abc")).encode(),
    b'{"artist": "cut', b"", b"not json", b"{", b'  "ts": 1541106106796', b"}",
    json.dumps(event(song="x" * 1100)).encode(), b'{"ts": 1} {"ts": 2}',
    json.dumps(event(sessionId="abc")).encode() + b" 5",  # two rejections on one line: a value, then a number
    b'{"ts": 1541106106796, "length": 1e400}',  # orjson refuses it; the standard library reads inf
]


def staged(connection, tmp_path, content, task_bytes, workers, monkeypatch):
    path = tmp_path / "log_data" / "events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    monkeypatch.setattr(staging_loader, "SMALL_FILE_BYTES", 0)
    monkeypatch.setattr(staging_loader, "TASK_BYTES", task_bytes)
    files = LocalSource(tmp_path).files("log_data")
    paths = read_jsonpaths(json.dumps(JSONPATHS))
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM staging_events")
            result = stage_table(cursor, "staging_events", files, lambda columns: paths, max_errors=10**6,
                                 workers=workers)
            cursor.execute("SELECT * FROM staging_events")
            rows = sorted(cursor.fetchall(), key=repr)
            cursor.execute("SELECT line_number, column_name, reason FROM rejected_records")
            saved = sorted(cursor.fetchall(), key=repr)  # every rejected record, sent as it was found
    finally:
        connection.rollback()
    assert result.rejected_count == len(saved)
    kept = [(record.line_number, record.column_name, record.reason) for record in result.rejected]
    return rows, kept, saved, result.file_rows


def exactly_staged(connection, content):
    """The reference: the exact reader, then each record through the exact converters, in order."""
    paths = read_jsonpaths(json.dumps(JSONPATHS))
    try:
        with connection.cursor() as cursor:
            columns = staging_loader.table_columns(cursor, "staging_events")
            encoder = RowEncoder(columns, paths)
            data, rejected, rows = [], [], 0
            for item in read_records(io.BytesIO(content)):
                if not isinstance(item, Record):
                    rejected.append((item.line, None, item.reason))
                    continue
                try:
                    data.append(encoder.convert_row(encoder.values([item.value])[0]))
                    rows += 1
                except Rejection as rejection:
                    rejected.append((item.line, rejection.column, f"{rejection.column} {rejection}"))
            cursor.execute("DELETE FROM staging_events")
            copy_rows(cursor, "staging_events", [column.name for column in columns], data, options=COPY_OPTIONS)
            cursor.execute("SELECT * FROM staging_events")
            stored = sorted(cursor.fetchall(), key=repr)
    finally:
        connection.rollback()
    return stored, rejected[:KEPT_REJECTED], sorted(rejected, key=repr), {"log_data/events.json": rows}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(FILE_LINES), min_size=1, max_size=30),
    task_bytes=st.integers(1, 3000),
    bom=st.booleans(),
    trailing_newline=st.booleans(),
)
def test_a_file_cut_into_tasks_stages_as_the_whole_file(warehouse, tmp_path_factory, monkeypatch, lines, task_bytes,
                                                        bom, trailing_newline):
    content = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    assume(content.strip())
    folder = tmp_path_factory.mktemp("cut")
    exact = exactly_staged(warehouse.connection, content)
    with monkeypatch.context() as patch:
        assert staged(warehouse.connection, folder, content, 1 << 30, 0, patch) == exact
    with monkeypatch.context() as patch:
        assert staged(warehouse.connection, folder, content, task_bytes, 0, patch) == exact


@pytest.mark.parametrize(
    "content",
    [b"aa\nbbb\ncccc\n", b"aa\nbbb\ncccc", b"\n\nx\n\n", b"x", b"\n"],
    ids=["lines", "no last newline", "blank lines", "one byte", "one newline"],
)
def test_tasks_cut_anywhere_hold_each_line_once(content):
    """Every line of the file is in exactly one task: the one it starts in."""
    for task_bytes in range(1, len(content) + 1):
        bounds = [
            staging_loader._line_bounds(content, start, min(start + task_bytes, len(content)))
            for start in range(0, len(content), task_bytes)
        ]
        assert b"".join(content[first:stop] for first, stop in bounds) == content, task_bytes
        for (first, stop), start in zip(bounds, range(0, len(content), task_bytes)):
            assert first == stop or first == 0 or content[first - 1:first] == b"\n"  # a line's start
            assert start <= first


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (0, 3, (0, 3)),  # the cut falls just after a newline: the next line is the next task's
        (0, 4, (0, 7)),  # the line cut in two is this task's, whole
        (4, 7, (7, 7)),  # no line starts in the task
        (3, 7, (3, 7)),
        (8, 12, (12, 12)),
    ],
)
def test_a_task_holds_the_lines_that_start_in_it(start, end, expected):
    assert staging_loader._line_bounds(b"aa\nbbb\ncccc\n", start, end) == expected


def test_a_line_longer_than_a_record_can_be_is_left_to_the_exact_reader(monkeypatch):
    monkeypatch.setattr(staging_loader, "MAX_RECORD_BYTES", 10)
    content = b"a\n" + b"x" * 50 + b"\n"
    assert staging_loader._line_bounds(content, 0, 3) == (0, None)
    assert staging_loader._line_bounds(content, 0, 50) == (0, 53)  # within 10 bytes of the cut: held


def test_a_line_too_long_to_hold_goes_to_the_exact_reader(warehouse, tmp_path, monkeypatch):
    content = b"\n".join([GOOD, json.dumps(event(song="y" * 900)).encode(), GOOD, b"x" * 5000, GOOD])
    monkeypatch.setattr(staging_loader, "MAX_RECORD_BYTES", 300)  # the fast path holds lines up to this
    exact = exactly_staged(warehouse.connection, content)
    assert [reason for _, _, reason in exact[1]] == ["invalid JSON: Expecting value (column 1)"]
    for task_bytes in (1 << 30, 200, 37):
        with monkeypatch.context() as patch:
            assert staged(warehouse.connection, tmp_path, content, task_bytes, 0, patch) == exact


DISTINCT_LINES = [json.dumps(event(itemInSession=item, ts=1541106106796 + item)).encode() for item in range(60)]


@pytest.mark.parametrize("task_bytes", [1 << 30, 500, 37])
@pytest.mark.parametrize(
    "lines",
    [DISTINCT_LINES, DISTINCT_LINES + [json.dumps(event(song="y" * 900)).encode(), GOOD], DISTINCT_LINES + FILE_LINES],
    ids=["good lines", "a line too long for the fast path last", "bad lines last"],
)
def test_a_file_system_that_cannot_map_files_stages_the_same(warehouse, tmp_path, monkeypatch, task_bytes, lines):
    """Log files are mapped into memory; where that fails, the loader reads the bytes instead."""
    refused = []

    def cannot_map(*args, **kwargs):
        refused.append(args)
        raise OSError(errno.ENODEV, "No such device")

    content = b"\n".join(lines)
    exact = exactly_staged(warehouse.connection, content)
    monkeypatch.setattr(mmap, "mmap", cannot_map)
    monkeypatch.setattr(staging_loader, "MAX_RECORD_BYTES", 300)  # lines longer go to the exact reader
    assert staged(warehouse.connection, tmp_path, content, task_bytes, 0, monkeypatch) == exact
    assert refused, "the test must take the path that reads"


def test_worker_processes_stage_as_this_process(warehouse, tmp_path, monkeypatch):
    content = b"\n".join(FILE_LINES * 20)
    exact = exactly_staged(warehouse.connection, content)
    with monkeypatch.context() as patch:
        assert staged(warehouse.connection, tmp_path, content, 500, 2, patch) == exact
    assert exact[1], "the file holds bad records: the check above compares their rejection too"


def test_a_worker_keeps_one_encoder_per_table():
    spec = TableSpec("t", tuple(COLUMNS), tuple((key,) for key in KEYS))
    same = TableSpec("t", tuple(COLUMNS), tuple((key,) for key in KEYS))
    assert staging_loader._encoder(spec) is staging_loader._encoder(same)


class DiesInTheWorker:
    """A task whose unpickling ends the worker process, as the kernel's OOM killer would."""

    def __reduce__(self):
        return (os._exit, (1,))


@pytest.mark.parametrize("before", [0, 1], ids=["while its result is awaited", "while more tasks are sent"])
def test_a_worker_process_that_dies_fails_the_load_with_a_message(before):
    spec = TableSpec("t", tuple(COLUMNS), tuple((key,) for key in KEYS))
    tasks = [staging_loader.FilesTask([])] * before + [DiesInTheWorker()] * 6
    with pytest.raises(LoadError, match="a worker process of the loader died .* --workers 0"):
        for _ in staging_loader.run_tasks(spec, tasks, workers=1):
            time.sleep(0.5)  # the COPY takes its time: the worker dies meanwhile


@pytest.mark.parametrize("declared", ["real", "numeric", "date"])
def test_a_column_type_the_loader_does_not_convert_is_refused_up_front(declared):
    with pytest.raises(UnsupportedColumn, match=f"cannot stage column c of type {declared}"):
        RowEncoder([Column("c", declared, None, True)], [("c",)])
