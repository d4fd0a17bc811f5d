"""Read JSON records from a source file, the way Redshift's COPY ... JSON does.

A record is one JSON value, and records are separated by any whitespace: a
file may hold one object, several objects one per line, several on one line,
or one spread over several lines; the last line may lack a newline; the file
may be empty (https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html).
Each record is reported with the line on which it starts.

A record that is not an object, not valid JSON (RFC 8259: no NaN, no
Infinity) or not UTF-8 comes out as one ``Rejected`` at the line where it
starts (docs/data-contract.md#rejected-records). Where it ends:

- a value that is valid JSON (an array, a number, an object with a bad byte
  in a string) ends where the value ends;
- a record that is not valid JSON and starts with ``{`` or ``[`` ends where
  its braces and brackets close, counted outside strings, a string running
  on over a line break: an object cut in two by a stray line break is one
  rejected record, not one per piece;
- any other text that is not JSON ends at the end of its line;
- and a rejected record always ends before the next line that begins with
  ``{``, where reading resumes: an object cut short by a crash does not take
  the good objects after it.

Redshift's load-error views give the last line of a JSON object instead
(line_number in https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html);
the contract gives the first, where a person starts reading.

Memory stays bounded: the file is read in blocks, and one record may hold at
most ``MAX_RECORD_BYTES``, Redshift's limit for one JSON object ("The maximum
size of a JSON object in Amazon Redshift is 4 MB", which applies to each
object, not to a line: https://docs.aws.amazon.com/redshift/latest/dg/copy_json.html).
A line of a hundred thousand small objects is that many records; a larger
record is one rejected record ("larger than the limit"), however long, read
to its end without being held, and what follows it keeps its line numbers.
"""

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson

BLOCK_BYTES = 8 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
RAW_TEXT_LIMIT = 1024  # how much of a rejected record's text we keep
JSON_WHITESPACE = b" \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"

JSON_WHITESPACE_TEXT = " \t\r\n"
_NOT_WHITESPACE = re.compile(r"[^ \t\r\n]")
_NOT_BLANK = re.compile(r"[^ \t\r]")
_OUTSIDE_STRING = re.compile(r'[{}\[\]"\n]')
_INSIDE_STRING = re.compile(r'[\\"\n]')
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


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

    ``first_line`` and ``at_start`` say where the stream starts in its file
    (always at the start of a line): only the start of a file may hold a
    byte order mark.

    Three ways, fastest first: lines that are one whole object each, parsed
    by orjson a line at a time (``_whole_lines``); valid objects anywhere
    (several on a line, one over lines), found by the standard library's
    parser in a tight loop (``_valid_objects``); and anything else, one
    record at a time with every check (``_next_record``).
    """
    text = _Text(stream, block_bytes, first_line, at_start)
    fresh_line = True  # no record before text.pos on its line: the fast path may take the whole line
    while True:
        buffer, position = text.text, text.pos
        if position == len(buffer) or buffer[position] in JSON_WHITESPACE_TEXT:
            match = _NOT_WHITESPACE.search(buffer, position)
            end = len(buffer) if match is None else match.start()
            fresh_line = fresh_line or buffer.find("\n", position, end) >= 0
            text.advance(end)
            if match is None:
                if not text.more():
                    return
                continue
        if fresh_line:
            read = yield from _whole_lines(text)
            if read:
                continue
        read = yield from _valid_objects(text)
        fresh_line = text.pos < len(text.text) and text.text[text.pos] == "\n"
        if not read and not fresh_line:
            yield _next_record(text)


def _whole_lines(text):
    """The fast path: Records of the lines from text.pos on while each is one whole object; how many were
    read (or True when the text had to be read on: nothing was read, the caller looks again)."""
    buffer, position, line = text.text, text.pos, text.line
    count = 0
    loads = orjson.loads
    quarter = MAX_RECORD_BYTES // 4  # a line of fewer characters holds fewer bytes than the limit
    while True:
        end = buffer.find("\n", position)
        if end < 0:
            if not text.final:
                if count == 0 and len(buffer) - position <= MAX_RECORD_BYTES:
                    text.more()  # the line goes on past the text read so far
                    return True
                break  # or it is longer than a record can be: its records are read one by one
            end = len(buffer)
        if end - position > MAX_RECORD_BYTES:
            break
        piece = buffer[position:end].strip(JSON_WHITESPACE_TEXT)
        if piece:
            if piece[0] != "{" or piece[-1] != "}" or (len(piece) > quarter and _too_large(piece)):
                break
            try:
                value = loads(piece)
            except orjson.JSONDecodeError:
                break  # several records, a bad one, or a byte that is not UTF-8: another path says which
            if type(value) is not dict:
                break
            yield Record(line, value, piece)
            count += 1
        position, line = end + 1, line + 1
        if end == len(buffer):
            position = end
            break
    if count:
        text.pos, text.line = position, line
    return count


def _valid_objects(text):
    """Records of the valid objects from text.pos on, in a tight loop, up to the end of a line; how many.

    Stops before anything that is not simply a record (a rejected one, one
    that may go on past the text read so far): _next_record() takes it.
    """
    buffer, position, line = text.text, text.pos, text.line
    decode = _decoder.raw_decode
    clean = not text.bad_bytes
    count = 0
    while position < len(buffer) and buffer[position] == "{":
        try:
            value, end = decode(buffer, position)
        except (json.JSONDecodeError, ValueError, RecursionError):
            break
        source = buffer[position:end]
        if type(value) is not dict or (not clean and _NOT_UTF8.search(source)) or _too_large(source):
            break
        yield Record(line, value, source)
        count += 1
        line += source.count("\n")
        position = end
        while position < len(buffer) and buffer[position] in " \t\r":
            position += 1
    text.pos, text.line = position, line
    return count


def _next_record(text):
    """The record at text.pos, which is not whitespace, as a Record or a Rejected; text.pos moves past it."""
    text.look_ahead()
    buffer, start, line = text.text, text.pos, text.line
    try:
        value, end = _decoder.raw_decode(buffer, start)
    except (json.JSONDecodeError, ValueError, RecursionError) as error:
        return _reject_to_end(text, error)
    if end == len(buffer) and not text.final and buffer[start] not in '{["':
        return _reject_to_end(text, None)  # a number or a word longer than the limit: it may go on
    source = buffer[start:end]
    if _too_large(source):
        rejected = too_large(line, source)
    elif bad_byte := _NOT_UTF8.search(source):
        rejected = _reject(line, _not_utf8(text, start + bad_byte.start(), line), source)
    elif type(value) is not dict:
        rejected = _reject(line, f"expected a JSON object, found {type(value).__name__}", source)
    else:
        rejected = Record(line, value, source)
    text.advance(end)
    return rejected


def _reject_to_end(text, error):
    """The Rejected for a record that is not valid JSON (``error`` None: too large to hold); text.pos
    moves to where it ends, as the module's docstring says."""
    buffer, start, line = text.text, text.pos, text.line
    reason = None if error is None else _reason(error, text, line)
    head = buffer[start:start + RAW_TEXT_LIMIT]
    extent = _Extent(bracketed=buffer[start] in "{[")
    position, length, held = start, 0, True
    while True:
        end, resume = extent.end(text.text, position, text.final)
        if end is not None:
            break
        held = False  # then it is longer than the limit: text.look_ahead() held that much
        length += resume - text.pos
        text.advance(resume)  # forget what is read: a record over the limit is never held
        if not text.more():
            end = len(text.text)
            break
        position = text.pos
    length += end - text.pos
    head = head[:length]
    if held:
        if _too_large(text.text[start:end]):
            reason = None
        elif reason is not None and (bad_byte := _NOT_UTF8.search(text.text, start, end)):
            reason = _not_utf8(text, bad_byte.start(), line)
        elif getattr(error, "pos", 0) >= end:  # the parser read past its end: it is cut short
            kind = "object" if buffer[start] == "{" else "array"
            reason = f"invalid JSON: unclosed {kind} ({text.place(end, line)})"
    text.advance(end)
    if reason is None or length > MAX_RECORD_BYTES:
        return too_large(line, head)
    return _reject(line, reason, head)


class _Extent:
    """Where a record that is not valid JSON ends: the rules of the module's docstring, read as a stream."""

    def __init__(self, bracketed):
        self.bracketed = bracketed
        self.depth = 0
        self.in_string = False

    def end(self, text, position, final):
        """(where the record ends in ``text``, None), or (None, where to go on) when ``text`` ends first."""
        while True:
            match = (_INSIDE_STRING if self.in_string else _OUTSIDE_STRING).search(text, position)
            if match is None:
                return None, len(text)
            char, index = match.group(), match.start()
            if char == "\n":
                if not self.bracketed:
                    return index, None
                blank = _NOT_BLANK.search(text, index + 1)
                if blank is None and not final:
                    return None, index  # what begins the next line is not read yet
                if blank is None or text[blank.start()] == "{":
                    return index, None
                position = index + 1
                continue
            position = index + 1
            if self.in_string:
                if char == "\\":
                    if index + 1 == len(text) and not final:
                        return None, index
                    if text[index + 1:index + 2] != "\n":
                        position = index + 2  # the escaped character
                else:
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            else:
                self.depth -= 1
                if self.bracketed and self.depth <= 0:
                    return position, None


class _Text:
    """A stream's text, decoded a block at a time: ``text[pos:]`` is not read yet, and ``line`` is the
    line number at ``pos``.

    A byte that is not UTF-8 becomes a lone surrogate (surrogateescape): it
    rejects only the record that holds it, and the positions stay those of
    characters for the parser.
    """

    def __init__(self, stream, block_bytes, line, at_start):
        self.stream = stream
        self.block_bytes = block_bytes
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.text = ""
        self.pos = 0
        self.line = line
        self.column = 0  # the column of text[0] in its line (0 when it starts a line)
        self.final = False
        self.bom = at_start  # a byte order mark may still come
        self.bad_bytes = False  # whether the text holds a byte that is not UTF-8

    def more(self) -> bool:
        """Read the next block after what is left; False at the end of the stream."""
        if self.final:
            return False
        block = self.stream.read(self.block_bytes)
        self.final = not block
        newline = self.text.rfind("\n", 0, self.pos)
        self.column = self.pos - newline - 1 if newline >= 0 else self.column + self.pos
        rest, chunk = self.text[self.pos:], self.decoder.decode(block, final=self.final)
        self.bad_bytes = (self.bad_bytes and _NOT_UTF8.search(rest) is not None) or _not_utf8_in(chunk)
        self.text = rest + chunk
        self.pos = 0
        if self.bom and self.text:
            self.bom = False
            if self.text[0] == "\ufeff":  # a BOM is allowed before a JSON text (RFC 8259, 8.1)
                self.text = self.text[1:]
        return True

    def look_ahead(self):
        """Hold a whole record's worth of text past ``pos``, if the stream has it."""
        while not self.final and len(self.text) - self.pos <= MAX_RECORD_BYTES:
            self.more()

    def advance(self, end):
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def place(self, index, record_line):
        """' (column C)' of ``text[index]`` on the record's first line, else ' (line L, column C)'."""
        newline = self.text.rfind("\n", 0, index)
        column = index - newline if newline >= 0 else self.column + index + 1
        line = self.line + self.text.count("\n", self.pos, index)
        return f"column {column}" if line == record_line else f"line {line}, column {column}"


def _not_utf8_in(text):
    """Whether decoded ``text`` stands for a byte that was not UTF-8 (a lone surrogate: strict UTF-8 refuses it)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_large(text):
    """Whether ``text`` takes more than MAX_RECORD_BYTES in UTF-8 (encoded only when it may)."""
    return len(text) * 4 > MAX_RECORD_BYTES and len(text.encode("utf-8", "surrogateescape")) > MAX_RECORD_BYTES


def _not_utf8(text, index, record_line):
    """Why the record is rejected when ``text.text[index]`` stands for a byte that is not UTF-8."""
    buffer = text.text
    newline = buffer.rfind("\n", 0, index)
    byte = len(buffer[newline + 1:index].encode("utf-8", "surrogateescape")) + 1
    if newline < 0:
        byte += text.column
    line = text.line + buffer.count("\n", text.pos, index)
    where = "the line" if line == record_line else f"line {line}"
    return f"not valid UTF-8 (byte {byte} of {where})"


def _reason(error, text, record_line):
    if isinstance(error, RecursionError):
        return "invalid JSON: nested too deeply to read"
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error.msg} ({text.place(error.pos, record_line)})"
    return f"invalid JSON: {error}"


def too_large(line: int, text: str) -> Rejected:
    """The rejected record of a record longer than MAX_RECORD_BYTES (``text``: its start, at least)."""
    return _reject(
        line, f"the record is larger than the limit of {MAX_RECORD_BYTES:,} bytes for one JSON object "
        "(as Redshift's COPY limits one to 4 MB)", text,
    )


def _reject(line, reason, raw):
    raw = raw[:RAW_TEXT_LIMIT]
    if _NOT_UTF8.search(raw):
        raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")
    return Rejected(line, reason, raw)
