"""Turn JSON records into the rows of a ``COPY ... FROM STDIN (FORMAT csv)``.

Each value is converted to its column's type as the table in the database
declares it, with Redshift's rules: a number in a JSON string is a valid number,
an empty string in a numeric column is NULL, VARCHAR(n) holds n *bytes*, a
boolean in a text column is stored as its JSON text, and a number as it is
written in the source (1.10 stays "1.10", 1e400 "1e400": see ``WrittenNumber``).
A value that does not fit makes its record a rejected record (``Rejection``):
an integer also when it is outside its column's range in
sparkify/value_ranges.py (ts must be a time the transform can hold). A
rejection quotes at most a short excerpt of the value.

There are two paths to the same rows:

- ``encode()`` checks a whole block of records at once, column by column, with
  loops that run in C (the set of types in a column, its longest string, its
  smallest and largest number), and then writes the block with one
  ``orjson.dumps``. A JSON array of values is, with brackets and commas trimmed,
  a CSV row that PostgreSQL reads with ``NULL 'null'`` and ``ESCAPE '\\'``:
  strings come quoted, ``\\"`` and ``\\\\`` are the only escapes, null is the
  unquoted word ``null``.
- A block that fails any check is split in two until the records that need it
  go one by one through ``convert_row()``: the exact converters below, which
  say what is wrong with a value. The fast path only ever takes records whose
  values these converters would accept as they are; the tests hold the two
  paths to the same rows.
"""

import json
import math
import operator
import re
from dataclasses import dataclass
from itertools import repeat

import orjson

from sparkify.output.printable import excerpt
from sparkify.sources.jsonpaths import extract
from sparkify.value_ranges import COLUMN_RANGES, RANGE_MEANING

COPY_OPTIONS = "FORMAT csv, NULL 'null', ESCAPE '\\'"

INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
# only double precision: a REAL's range and a NUMERIC's scale would need checks of their own
FLOAT_TYPES = {"double precision"}
TEXT_TYPES = {"character varying", "character", "text"}

# ASCII digits and blanks only: "١٢" (Arabic-Indic digits) is not a number to COPY
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*\Z", re.ASCII)
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z", re.ASCII)
# orjson writes a control character as one of these escapes; CSV needs it raw
_BACKSLASH_LETTER = re.compile(rb"\\[bfnrtu]")

_NONE = type(None)
_TEXT_VALUES = frozenset({str, _NONE})
_INTEGER_VALUES = frozenset({int, _NONE})
_FLOAT_VALUES = frozenset({float, int, _NONE})
# the checks a column's values may need
_LENGTH, _RANGE, _DIGITS, _FINITE = "length", "range", "digits", "finite"
_UNKNOWN = object()
_EXCERPT = 40  # characters of a value a rejection quotes
# values of a text column read again from the source text: numbers, and what may hold numbers
_REWRITTEN = frozenset({int, float, dict, list})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    max_length: int | None
    nullable: bool


class Rejection(Exception):
    """A value that does not fit its column."""

    column = None
    value = None


class UnsupportedColumn(Exception):
    """A column type the loader does not know how to stage."""


class WrittenNumber(str):
    """A JSON number as it is written in the source ("1.10", "1e400", 2**64 in full).

    The fast parsers read a number as a float or a 64-bit integer, which
    loses how it was written; a text column must store the text. A record
    whose text column holds a number is parsed again from its source text
    with the numbers kept as written (``written_record``), only then.
    """

    __slots__ = ()


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


_written_decoder = json.JSONDecoder(parse_float=WrittenNumber, parse_int=WrittenNumber, parse_constant=_no_constants)


def written_record(text):
    """The JSON value of ``text`` (bytes or str) with its numbers as WrittenNumber, or None if it is not JSON."""
    try:
        if isinstance(text, bytes | bytearray | memoryview):
            text = bytes(text).decode("utf-8-sig")
        text = text.strip(" \t\r\n")
        value, end = _written_decoder.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    return value if end == len(text) else None


def written_json(value) -> str:
    """``value`` as compact JSON text, its WrittenNumbers as they were written."""
    try:
        return orjson.dumps(value, default=_fragment, option=orjson.OPT_PASSTHROUGH_SUBCLASS).decode()
    except TypeError:  # an integer beyond 64 bits, a string with an unpaired surrogate
        return _written_json(value)


def _written_json(value):
    kind = type(value)
    if kind is WrittenNumber:
        return str.__str__(value)
    if kind is dict:
        return "{" + ",".join(f"{_written_json(str(key))}:{_written_json(item)}" for key, item in value.items()) + "}"
    if kind is list:
        return "[" + ",".join(map(_written_json, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


def _fragment(value):
    if type(value) is WrittenNumber:
        return orjson.Fragment(str.__str__(value))
    raise TypeError


def integer_range(column: Column) -> tuple[int, int]:
    """(lowest, highest) integer ``column`` may hold: its type's, or narrower (value_ranges.py)."""
    low, high = INTEGER_RANGES[column.type]
    narrower = COLUMN_RANGES.get(column.name)
    if narrower is not None:
        low, high = max(low, narrower[0]), min(high, narrower[1])
    return low, high


def safe_digits(column: Column) -> int:
    """The most digits a string of digits may have and always fit ``column``."""
    return len(str(integer_range(column)[1])) - 1


def _quoted(value) -> str:
    """A short excerpt of a value for a message: repr() of a string, JSON text of anything else."""
    kind = type(value)
    if kind is str:
        return repr(value) if len(value) <= _EXCERPT else f"{value[:_EXCERPT]!r}… ({len(value):,} characters)"
    if kind is float:
        return repr(value)  # inf, which JSON cannot write
    return excerpt(str.__str__(value) if kind is WrittenNumber else json_text(value, ascii_only=True), _EXCERPT)


# ---------------------------------------------------------------------------
# The exact converters: one JSON value -> the text of one field (None: NULL)
# ---------------------------------------------------------------------------


def converter(column: Column):
    """A function from a JSON value to the text ``column`` stores, or None for NULL."""
    if column.type in TEXT_TYPES:
        convert = _text_converter(column.max_length)
    elif column.type in INTEGER_RANGES:
        low, high = integer_range(column)
        meaning = RANGE_MEANING.get(column.name) or f"the column is {column.type.upper()}, from {low} to {high}"
        convert = _integer_converter(low, high, meaning)
    elif column.type in FLOAT_TYPES:
        convert = _float
    else:
        raise UnsupportedColumn(f"the loader cannot stage column {column.name} of type {column.type}")

    if column.nullable:
        return convert

    def not_null(value):
        text = convert(value)
        if text is None:
            raise Rejection("has no value, and the column is NOT NULL")
        return text

    return not_null


def _text_converter(max_bytes):
    def text(value):
        if value is None:
            return None
        kind = type(value)
        if kind is not str:
            if kind is bool:
                value = "true" if value else "false"
            elif kind is WrittenNumber:
                value = str.__str__(value)
            elif kind is int or kind is float:
                value = repr(value)
            else:
                value = written_json(value)
        if "\x00" in value:
            raise Rejection("contains a NUL character, which a VARCHAR cannot hold")
        try:
            size = len(value.encode("utf-8")) if not value.isascii() else len(value)
        except UnicodeEncodeError:
            raise Rejection("holds an unpaired UTF-16 surrogate (an invalid \\u escape)") from None
        if max_bytes is not None and size > max_bytes:
            raise Rejection(f"is {size} bytes long, more than the column's {max_bytes}")
        return value

    return text


def _integer_converter(low, high, allowed):
    most_digits = len(str(high))

    def out_of_range(value):
        return Rejection(f"{_quoted(value)} is out of range: {allowed}")

    def integer(value):
        kind = type(value)
        if kind is int:
            number = value
        elif value is None:
            return None
        elif kind is str:
            if value == "":
                return None  # Redshift loads an empty numeric field as NULL
            if not _INTEGER_TEXT.match(value):
                raise Rejection(f"{_quoted(value)} is not an integer")
            text = value.strip()
            sign = text[0] if text[0] in "+-" else ""
            digits = text[len(sign):].lstrip("0")
            # int() refuses over 4,300 digits, leading zeros included: that many is out of range anyway
            if len(digits) > most_digits:
                raise out_of_range(value)
            number = int(sign + (digits or "0"))
        elif kind is float and (math.isinf(value) or (value.is_integer() and not low <= value <= high)):
            raise out_of_range(value)  # an integer beyond 64 bits, which the parsers read as a float
        else:
            raise Rejection(f"{_quoted(value)} is not an integer")
        if not low <= number <= high:
            raise out_of_range(number)
        return str(number)

    return integer


def _float(value):
    kind = type(value)
    if value is None:
        return None
    if kind is float:
        number = value
    elif kind is int or kind is str:
        if value == "":
            return None
        if kind is str and not _NUMBER_TEXT.match(value):
            raise Rejection(f"{_quoted(value)} is not a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    else:
        raise Rejection(f"{_quoted(value)} is not a number")
    if not math.isfinite(number):
        raise Rejection(f"{_quoted(value)} is out of range for a double precision")
    return repr(number)


def json_text(value, ascii_only=False) -> str:
    """``value`` as compact JSON text.

    The exact reader may hand over what orjson cannot write (it parses a record
    that orjson refused with the standard library): an integer beyond 64 bits,
    a string with an unpaired surrogate. ``ascii_only`` escapes the latter, for
    text that must be stored as it is (a rejected record).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))


def csv_field(text):
    """One field of a row in COPY_OPTIONS' CSV: NULL is the bare word null."""
    if text is None:
        return "null"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------
# Blocks of records -> COPY rows
# ---------------------------------------------------------------------------


class RowEncoder:
    """Encodes records for one table: its columns and the JSON path of each."""

    def __init__(self, columns: list[Column], paths):
        self.columns = list(columns)
        self.converters = [converter(column) for column in self.columns]
        self.paths = [tuple(path) for path in paths]
        keys = [path[0] for path in self.paths if len(path) == 1 and isinstance(path[0], str)]
        if len(keys) == len(self.paths) and len(keys) > 1:
            self._getter = operator.itemgetter(*keys)
        else:
            self._getter = None
        self._keys = keys
        self._checks = {}  # frozenset of shapes -> the checks they need (see _plan)
        self._text_columns = [index for index, column in enumerate(self.columns) if column.type in TEXT_TYPES]

    def values(self, records: list[dict]) -> list[tuple]:
        """The value at each column's path, for each record (None where absent)."""
        if self._getter is not None:
            try:
                return list(map(self._getter, records))
            except KeyError:  # a record lacks a key: look each one up with a default
                keys = self._keys
                return [tuple(map(record.get, keys)) for record in records]
        return [tuple(extract(record, path) for path in self.paths) for record in records]

    def encode(self, records: list[dict], texts=None) -> tuple[bytes, list[tuple[int, Rejection]]]:
        """(COPY rows, [(index of a rejected record, why)]) for ``records``.

        ``texts``, if given, holds the source text of each record (bytes or
        str), read only for a record whose text column holds a number.
        """
        rows = self.values(records)
        out = []
        rejected = []
        self._encode(rows, 0, out, rejected, texts)
        return b"".join(out), rejected

    def _encode(self, rows, offset, out, rejected, texts):
        if not rows:
            return
        data = self._fast(rows)
        if data is not None:
            out.append(data)
        elif len(rows) == 1:
            try:
                out.append(self.convert_row(rows[0], None if texts is None else texts[offset]))
            except Rejection as rejection:  # without its traceback, whose frames would hold it in a cycle
                rejected.append((offset, rejection.with_traceback(None)))
        else:
            half = len(rows) // 2
            self._encode(rows[:half], offset, out, rejected, texts)
            self._encode(rows[half:], offset + half, out, rejected, texts)

    def convert_row(self, row, text=None) -> bytes:
        """One row through the exact converters (raises Rejection).

        ``text`` is the record's source text: a number, or a value holding
        numbers, in a text column is then stored as written there.
        """
        if text is not None and self._text_columns and any(
            type(row[index]) in _REWRITTEN for index in self._text_columns
        ):
            row = self._as_written(row, text)
        fields = []
        for column, convert, value in zip(self.columns, self.converters, row):
            try:
                fields.append(csv_field(convert(value)))
            except Rejection as rejection:
                rejection.column = column.name
                rejection.value = value
                raise
        return (",".join(fields) + "\n").encode("utf-8")

    def _as_written(self, row, text):
        """``row`` with the values of its text columns read again from ``text``, numbers as written."""
        record = written_record(text)
        if record is None:
            return row
        written = list(row)
        for index in self._text_columns:
            if type(row[index]) in _REWRITTEN:
                written[index] = extract(record, self.paths[index])
        return tuple(written)

    def _fast(self, rows):
        """The block's COPY rows, or None if any value needs the exact converters."""
        # the distinct tuples of value types ("shapes"): a handful per block, whatever its size
        shapes = frozenset(map(tuple, map(map, repeat(type, len(rows)), rows)))
        checks = self._checks.get(shapes, _UNKNOWN)
        if checks is _UNKNOWN:
            checks = self._plan(shapes)
            if len(self._checks) < 1024:
                self._checks[shapes] = checks
        if checks is None:
            return None
        if checks:
            columns = list(zip(*rows))
            for check, index, limit, nulls in checks:
                values = columns[index]
                if check is _LENGTH:
                    if not _strings_fit(values, nulls, limit):
                        return None
                elif check is _FINITE:  # the standard library reads 1e400 as inf; orjson would write null
                    if math.inf in values or -math.inf in values:
                        return None
                elif check is _RANGE:
                    numbers = list(filter(None, values)) if nulls else values
                    if numbers and (min(numbers) < limit[0] or max(numbers) > limit[1]):
                        return None
                elif not digit_strings_fit(rows, values, values, index, limit, self.columns[index].nullable):
                    return None  # _DIGITS: digits in a string, as the app sends userId
        return csv_rows(rows)

    def _plan(self, shapes):
        """The checks a block with these shapes needs (None: it cannot take the fast path)."""
        checks = []
        for index, column in enumerate(self.columns):
            types = {shape[index] for shape in shapes}
            nulls = _NONE in types
            if nulls and not column.nullable:
                return None
            kind = column.type
            if kind in TEXT_TYPES:
                if not types <= _TEXT_VALUES:
                    return None
                if column.max_length is not None and types != {_NONE}:
                    checks.append((_LENGTH, index, column.max_length, nulls))
            elif kind in INTEGER_RANGES:
                if types <= _INTEGER_VALUES:
                    if types != {_NONE}:
                        checks.append((_RANGE, index, integer_range(column), nulls))
                elif types <= _TEXT_VALUES:
                    checks.append((_DIGITS, index, safe_digits(column), nulls))
                else:
                    return None
            elif kind in FLOAT_TYPES:
                if not types <= _FLOAT_VALUES:
                    return None
                if float in types:
                    checks.append((_FINITE, index, None, nulls))
            else:
                return None
        return checks


def csv_rows(rows: list[tuple]) -> bytes | None:
    """``rows`` of JSON-ready values as COPY_OPTIONS' CSV, in one ``orjson.dumps``.

    None if orjson cannot write them so: a string with an unpaired surrogate,
    or a control character (which orjson escapes and CSV needs raw).
    """
    try:
        data = orjson.dumps(rows)
    except TypeError:  # a string with an unpaired surrogate
        return None
    if _has_control_escape(data):
        return None
    # [[a,b],[c,d]] -> a,b\nc,d\n, unless a string holds "],[" itself (split and join: a third
    # cheaper than bytes.replace, which counts the matches before it copies)
    lines = data[2:-2].split(b"],[")
    if len(lines) != len(rows):
        return None
    lines.append(b"")
    return b"\n".join(lines)


def _has_control_escape(data):
    """Whether orjson wrote a control character in ``data`` (as \\n, \\u0001, ...).

    A backslash before one of those letters counts only after an even run of
    backslashes: in \\\\n the backslash is escaped and n is a letter. (A
    regular expression with a look-behind says the same, but costs a hundred
    times more per byte: it cannot skip to the next backslash.)
    """
    for match in _BACKSLASH_LETTER.finditer(data):
        position = match.start()
        run = 1  # backslashes ending at ``position``
        while position - run >= 0 and data[position - run] == 0x5C:
            run += 1
        if run % 2:
            return True
    return False


def digit_strings_fit(rows, values, strings, index, limit, nullable):
    """Whether ``strings``, the strings among ``values`` (column ``index`` of
    ``rows``), are ASCII digits of at most ``limit`` or blank; a blank becomes
    NULL in ``rows``, as an empty numeric field does."""
    digits = list(filter(None, strings))
    if digits:
        joined = "".join(digits)
        if not (joined.isascii() and joined.isdigit()) or max(map(len, digits)) > limit:
            return False
    if "" in strings:
        if not nullable:
            return False
        _blank_to_null(rows, values, index)
    return True


def _blank_to_null(rows, values, index):
    """Put None for "" in column ``index`` of ``rows`` (only the few rows that hold one are rebuilt)."""
    position = values.index("")
    while True:
        row = rows[position]
        rows[position] = row[:index] + (None,) + row[index + 1:]
        try:
            position = values.index("", position + 1)
        except ValueError:
            return


def _strings_fit(values, nulls, max_bytes):
    """Every string of ``values`` is at most ``max_bytes`` long in UTF-8."""
    strings = list(filter(None, values)) if nulls else values
    if not strings:
        return True
    longest = max(map(len, strings))
    if longest > max_bytes:
        return False
    if longest * 4 <= max_bytes:
        return True  # four bytes is the most a character takes
    if "".join(strings).isascii():
        return True
    try:
        return max(map(len, map(str.encode, strings))) <= max_bytes
    except UnicodeEncodeError:
        return False
