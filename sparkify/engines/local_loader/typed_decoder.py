"""The fast path from JSON lines to COPY rows: decode them typed by the table's columns.

A block of log lines is decoded by msgspec straight into structs whose fields
have the types that the exact converters (row_encoder.py) accept as they are:
a string that fits its VARCHAR, an integer in its column's range (for ts,
the narrower range of sparkify/value_ranges.py, checked by msgspec as it
parses), a finite
number, null where the column allows it. msgspec checks those while it
parses, in C, and builds no dict per record; what is left to Python is
little:

- the block must be UTF-8. msgspec checks the strings it keeps, not the ones
  it skips (a key that no column maps), which the exact reader rejects too.
- a VARCHAR(n) holds n *bytes*. Its strings are decoded with at most n/4
  characters, which always fit. Once a block has shown longer ones in a
  column (``auth`` holds "Logged In", 9 characters of VARCHAR(32)), that
  column takes n characters, and a block's are checked to fit in bytes.
- the app sends userId as a string of digits ("39", or "" for a guest). A
  numeric column takes strings once a block has shown it holds them
  (``learn``); they are then checked as row_encoder.py's fast path checks
  them, and "" is NULL.

A block holding anything else (a value of another type, a string too long, a
line that is not an object) fails to decode. That is not an error here: the
caller encodes that block the slower way (RowEncoder.encode), which finds the
record and says what is wrong with it. The tests hold the two to the same
rows.
"""

from operator import itemgetter
from typing import Annotated

import msgspec
from msgspec.structs import astuple

from sparkify.engines.local_loader.row_encoder import (
    FLOAT_TYPES,
    INTEGER_RANGES,
    TEXT_TYPES,
    Column,
    _strings_fit,
    csv_rows,
    digit_strings_fit,
    integer_range,
    safe_digits,
)

MAX_BACKOFF = 64  # blocks skipped, at most, after the typed decode has failed


class TypedDecoder:
    """Decodes blocks of JSON lines into COPY rows for one table (columns and JSON paths)."""

    def __init__(self, columns: list[Column], paths):
        self.columns = list(columns)
        keys = [path[0] for path in paths if len(path) == 1 and isinstance(path[0], str)]
        known = TEXT_TYPES | set(INTEGER_RANGES) | FLOAT_TYPES
        self.usable = (
            len(keys) == len(self.columns) == len(paths)
            and len(set(keys)) == len(keys)
            and all(column.type in known for column in self.columns)
        )
        self.keys = keys
        self.digit_columns = frozenset()  # numeric columns known to hold strings of digits
        self.long_columns = frozenset()  # VARCHAR(n) columns known to hold strings of over n/4 characters
        self._skip = 0  # blocks to leave to the slower path before trying again
        self._backoff = 1
        self._decoder = self._build() if self.usable else None

    def _build(self):
        fields = []
        for index, column in enumerate(self.columns):
            kind = self._field_type(index, column)
            if column.nullable:
                fields.append((f"c{index}", kind | None, None))
            else:
                fields.append((f"c{index}", kind))
        row = msgspec.defstruct(
            "Row", fields, kw_only=True, gc=False,
            rename={f"c{index}": key for index, key in enumerate(self.keys)},
        )
        self._one = msgspec.json.Decoder(row)
        return msgspec.json.Decoder(list[row])

    def _field_type(self, index, column):
        if column.type in TEXT_TYPES:
            limit = column.max_length
            if limit is None:
                return str
            # four bytes is the most a character takes
            return Annotated[str, msgspec.Meta(max_length=limit if index in self.long_columns else limit // 4)]
        if column.type in INTEGER_RANGES:
            low, high = integer_range(column)  # narrower than the type for ts (value_ranges.py)
            kind = Annotated[int, msgspec.Meta(ge=low, le=high)]
            return kind | str if index in self.digit_columns else kind
        return float  # double precision: msgspec refuses 1e400 and takes integers as floats

    def encode(self, text: bytes, lines: int) -> bytes | None:
        """COPY rows for ``text``, ``lines`` lines of one JSON object each, or None.

        ``text`` is whole lines without the last newline, none of which holds
        two objects: the caller checks that (staging.py's
        _TWO_ON_A_LINE), as a line of two and an object spread over two lines
        would even out the count of values that this checks.

        None when a line does not decode to the types (the caller then takes
        the slower path), and for a while after such a failure, so that data
        which never fits costs little.
        """
        return self._attempt(self._lines, text, lines) if lines else None

    def encode_objects(self, texts: list[bytes]) -> bytes | None:
        """COPY rows for ``texts``, each one JSON object (a song file), or None (see encode)."""
        return self._attempt(self._objects, texts) if texts else None

    def _lines(self, text, lines):
        if not _utf8(text):
            return None
        structs = self._decoder.decode(b"".join((b"[", text.replace(b"\n", b","), b"]")))  # one copy, not two
        if len(structs) != lines:  # an object spread over lines, or a line of two
            return None
        return list(map(astuple, structs))

    def _objects(self, texts):
        if not all(map(_utf8, texts)):
            return None
        return list(map(astuple, map(self._one.decode, texts)))

    def _attempt(self, decode, *args):
        if not self.usable:
            return None
        if self._skip:
            self._skip -= 1
            return None
        try:
            rows = decode(*args)
        except (msgspec.DecodeError, ValueError, RecursionError):  # not the types or not JSON; too deep
            rows = None
        data = csv_rows(rows) if rows is not None and self._checked(rows) else None
        if data is None:
            return self._failed()
        self._backoff = 1
        return data

    def _failed(self):
        self._skip = self._backoff
        self._backoff = min(2 * self._backoff, MAX_BACKOFF)
        return None

    def _checked(self, rows):
        """Whether the checks msgspec cannot do hold (blanks in digit columns become NULL)."""
        for index in self.long_columns:
            values = list(map(itemgetter(index), rows))
            if not "".join(filter(None, values)).isascii():
                if not _strings_fit(values, True, self.columns[index].max_length):
                    return False
        for index in self.digit_columns:
            column = self.columns[index]
            values = list(map(itemgetter(index), rows))
            strings = [value for value in values if value.__class__ is str]
            if not digit_strings_fit(rows, values, strings, index, safe_digits(column), column.nullable):
                return False
        return True

    def learn(self, records: list[dict]) -> None:
        """Widen the types where ``records`` (a block that failed) show values the typed decode refused.

        Numeric columns holding strings take strings; VARCHAR(n) columns
        holding strings of over n/4 characters take n characters.
        """
        if not self.usable:
            return
        digits, longer = set(), set()
        for index, column in enumerate(self.columns):
            key = self.keys[index]
            strings = [record[key] for record in records if record.get(key).__class__ is str]
            if not strings:
                continue
            if column.type in INTEGER_RANGES and index not in self.digit_columns:
                digits.add(index)
            elif column.type in TEXT_TYPES and column.max_length is not None and index not in self.long_columns:
                if max(map(len, strings)) > column.max_length // 4:
                    longer.add(index)
        if digits or longer:
            self.digit_columns |= digits
            self.long_columns |= longer
            self._decoder = self._build()
            self._skip, self._backoff = 0, 1


def _utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")  # strict: refuses encoded surrogates too, as orjson does
    except UnicodeDecodeError:
        return False
    return True
