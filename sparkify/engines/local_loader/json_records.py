"""Read JSON records from a source file, the way Redshift's COPY ... JSON does.

A file may hold one object, several objects one per line, or objects separated
by any whitespace, even several on one line or one spread over several lines;
the last line may lack a newline; the file may be empty. Each record is
reported with the line on which it starts.

A record that is not valid JSON (RFC 8259: no NaN, no Infinity), or is not an
object, or is not UTF-8, comes out as a ``Rejected`` at the line where it
starts, and reading resumes on the next line (docs/data-contract.md#source-layout).

Memory stays bounded: the file is read in blocks, and one record may span at
most ``MAX_RECORD_BYTES`` (Redshift's limit for one JSON object is 4 MB). A
longer line is one rejected record ("larger than the limit"), however long
it is, and the lines after it keep their numbers: the reader skips to the
end of that line without holding it.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson

BLOCK_BYTES = 8 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
RAW_TEXT_LIMIT = 1024  # how much of a rejected record's text we keep
JSON_WHITESPACE = b" \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Record:
    line: int
    value: dict
    text: bytes | str | None = None  # the record's source text: a text column keeps a number as written


@dataclass
class Rejected:
    line: int
    reason: str
    raw: str


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def _integer(text):
    """An integer as Python's int() reads it, up to its limit of 4,300 digits; beyond, a float
    (infinite), as the fast parser reads an integer beyond 64 bits: out of range for any column."""
    return int(text) if len(text) <= 4300 else float(text)


_decoder = json.JSONDecoder(parse_constant=_no_constants, parse_int=_integer)


def read_records(
    stream: BinaryIO, block_bytes: int = BLOCK_BYTES, first_line: int = 1, at_start: bool = True
) -> Iterator[Record | Rejected]:
    """Every record of a binary stream, in order, as Record or Rejected.

    ``first_line`` and ``at_start`` say where the stream starts in its file:
    only the start of a file may hold a byte order mark.
    """
    carry = b""
    skipping = False  # in a line too long to hold, already rejected: read on to its end
    while True:
        block = stream.read(block_bytes)
        final = not block
        if skipping:
            if final:
                return
            newline = block.find(b"\n")
            if newline < 0:
                continue
            block, skipping = block[newline + 1:], False
        data = carry + block
        if at_start:
            at_start = False
            if data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM):]  # a BOM is allowed before a JSON text (RFC 8259, 8.1)
        if not data:
            if final:
                return
            continue
        if final:
            complete, carry = data, b""
        else:
            cut = data.rfind(b"\n") + 1
            complete, carry = data[:cut], data[cut:]
            if not complete:
                if len(carry) > MAX_RECORD_BYTES:
                    # a line too long to hold: one rejected record, then on from the line after it
                    yield too_large(first_line, carry)
                    first_line += 1
                    carry, skipping = b"", True
                continue
        lines = complete.split(b"\n")
        if complete.endswith(b"\n"):
            lines.pop()  # the empty piece after the last newline
        consumed = yield from _read_lines(lines, first_line, final)
        first_line += consumed
        if consumed < len(lines):
            # a record started near the end of the block and goes on in the next one
            carry = b"\n".join(lines[consumed:]) + b"\n" + carry
        if final:
            return


def _read_lines(lines, first_line, final):
    """Yield the records of ``lines``; return how many lines were consumed.

    Lines are read with the fast parser one at a time; a line that is not one
    whole object goes to the exact, slower scanner.
    """
    index = 0
    count = len(lines)
    loads = orjson.loads
    while index < count:
        line = lines[index]
        if len(line) > MAX_RECORD_BYTES:
            yield too_large(first_line + index, line)
            index += 1
            continue
        stripped = line.strip(JSON_WHITESPACE)
        if not stripped:
            index += 1
            continue
        if stripped[:1] == b"{" and stripped[-1:] == b"}":
            try:
                value = loads(stripped)
            except orjson.JSONDecodeError:
                pass
            else:
                if type(value) is dict:
                    yield Record(first_line + index, value, stripped)
                    index += 1
                    continue
        results, used = _scan(lines, index, first_line, final)
        if used is None:
            return index  # needs the next block
        yield from results
        index += used
    return index


def _scan(lines, index, first_line, final):
    """The exact reader, from line ``index`` on: (results, lines used).

    Returns (results, None) when the text ends inside a record that a later
    block may complete.
    """
    try:
        text = lines[index].decode("utf-8")
    except UnicodeDecodeError as error:
        return [_reject(first_line + index, f"not valid UTF-8 (byte {error.start + 1} of the line)", lines[index])], 1
    results = []
    position = 0
    used = 1  # lines of ``lines`` joined into ``text``
    record_line = first_line + index
    while True:
        position = _skip_whitespace(text, position)
        if position >= len(text):
            return results, used
        record_line = first_line + index + text.count("\n", 0, position)
        try:
            value, end = _decoder.raw_decode(text, position)
        except (json.JSONDecodeError, ValueError, RecursionError) as error:
            error_position = getattr(error, "pos", position)
            at_end = error_position >= len(text.rstrip())
            if at_end and index + used < len(lines) and len(text) - position < MAX_RECORD_BYTES:
                try:
                    text += "\n" + lines[index + used].decode("utf-8")
                except UnicodeDecodeError:
                    pass  # reported when its own line is read
                else:
                    used += 1
                    continue
            if at_end and index + used == len(lines) and not final and len(text) - position < MAX_RECORD_BYTES:
                return results, None
            line_start = first_line + index + text.count("\n", 0, position)
            offset = line_start - (first_line + index)
            raw_line = text.split("\n")[offset]
            reason = _reason(error)
            results.append(_reject(line_start, reason, raw_line))
            # resume on the line after the one where the bad record starts
            return results, offset + 1
        if not isinstance(value, dict):
            reason = f"expected a JSON object, found {type(value).__name__}"
            results.append(_reject(record_line, reason, text[position:end]))
        else:
            results.append(Record(record_line, value, text[position:end]))
        position = end
        # a record that ends its line hands the next line back to the fast reader
        rest = _skip_whitespace(text, position)
        if rest >= len(text):
            return results, used


def _skip_whitespace(text, position):
    length = len(text)
    while position < length and text[position] in " \t\r\n":
        position += 1
    return position


def _reason(error):
    if isinstance(error, RecursionError):
        return "invalid JSON: nested too deeply to read"
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error.msg} (column {error.colno})"
    return f"invalid JSON: {error}"


def too_large(line: int, text: bytes) -> Rejected:
    """The rejected record of a line longer than MAX_RECORD_BYTES (``text``: its start, at least)."""
    return _reject(
        line, f"the line is larger than the limit of {MAX_RECORD_BYTES:,} bytes for one record "
        "(as Redshift's COPY limits a JSON object to 4 MB)", text[:RAW_TEXT_LIMIT * 4],
    )


def _reject(line, reason, raw):
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return Rejected(line, reason, raw[:RAW_TEXT_LIMIT])
