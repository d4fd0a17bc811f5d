"""The JSON reader: every layout the real files use, and every bad record in its place."""

import io
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sparkify.engines.local_loader import json_records
from sparkify.engines.local_loader.json_records import MAX_RECORD_BYTES, Record, Rejected, read_records


def read(data: bytes, block_bytes=8 * 1024 * 1024):
    """(line, value) for records, (line, 'REJECTED', reason) for rejected ones."""
    out = []
    for item in read_records(io.BytesIO(data), block_bytes=block_bytes):
        if isinstance(item, Record):
            out.append((item.line, item.value))
        else:
            assert isinstance(item, Rejected)
            out.append((item.line, "REJECTED", item.reason))
    return out


@pytest.mark.parametrize(
    "data, expected",
    [
        pytest.param(b'{"a": 1}', [(1, {"a": 1})], id="one object, no newline"),
        pytest.param(b'{"a": 1}\n{"a": 2}\n', [(1, {"a": 1}), (2, {"a": 2})], id="one per line"),
        pytest.param(b'{"a": 1}{"a": 2} {"a": 3}\n', [(1, {"a": 1}), (1, {"a": 2}), (1, {"a": 3})],
                     id="several on one line"),
        pytest.param(b'{\n  "a": 1,\n  "b": [1,\n 2]\n}\n{"a": 2}', [(1, {"a": 1, "b": [1, 2]}), (6, {"a": 2})],
                     id="one spread over lines"),
        pytest.param(b'\n\n  {"a": 1}\t\r\n\n{"a": 2}  ', [(3, {"a": 1}), (5, {"a": 2})], id="any whitespace"),
        pytest.param(b'{"a": 1}\r\n{"a": 2}\r\n', [(1, {"a": 1}), (2, {"a": 2})], id="CRLF line ends"),
        pytest.param(b"", [], id="empty file"),
        pytest.param(b" \n\n ", [], id="only whitespace"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}\n', [(1, {"a": 1})], id="UTF-8 byte-order mark"),
        pytest.param('{"t": "Clementina Santaf\\u00e8 \u00e8 \u6771\u4eac \U0001f3b5"}'.encode(),
                     [(1, {"t": "Clementina Santaf\u00e8 \u00e8 \u6771\u4eac \U0001f3b5"})], id="unicode"),
    ],
)
def test_reads_every_layout(data, expected):
    assert read(data) == expected


@pytest.mark.parametrize(
    "data, expected",
    [
        pytest.param(b'{"a": 1}\n{"a": 2, "b\n{"a": 3}\n',
                     [(1, {"a": 1}), (2, "REJECTED"), (3, {"a": 3})], id="cut mid-object"),
        pytest.param(b'{"a": 1,}\n{"a": 2}\n', [(1, "REJECTED"), (2, {"a": 2})], id="trailing comma"),
        pytest.param(b'{"a": 1}\nthis is not JSON\n{"a": 2}\n',
                     [(1, {"a": 1}), (2, "REJECTED"), (3, {"a": 2})], id="stray line of text"),
        pytest.param(b'{"a": NaN}\n{"a": Infinity}\n{"a": 1}\n',
                     [(1, "REJECTED"), (2, "REJECTED"), (3, {"a": 1})], id="NaN and Infinity"),
        pytest.param(b'[1, 2]\n"text"\n{"a": 1}\n',
                     [(1, "REJECTED"), (2, "REJECTED"), (3, {"a": 1})], id="not an object"),
        pytest.param(b'{"a": "\xff\xfe"}\n{"a": 1}\n', [(1, "REJECTED"), (2, {"a": 1})], id="not UTF-8"),
        pytest.param(b'{"a": 1} junk\n{"a": 2}\n', [(1, {"a": 1}), (1, "REJECTED"), (2, {"a": 2})],
                     id="junk after an object"),
        pytest.param(b'{"a":\n', [(1, "REJECTED")], id="cut at the end of the file"),
        pytest.param(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b'}\n{"a": 1}\n', [(1, "REJECTED"), (2, {"a": 1})],
                     id="nested deeper than Python's recursion limit"),
    ],
)
def test_rejects_bad_records_at_their_line_and_resumes(data, expected):
    got = [item[:2] if item[1] == "REJECTED" else item for item in read(data)]
    assert got == expected


def test_rejected_record_says_why_and_keeps_the_text():
    [good, bad] = list(read_records(io.BytesIO(b'{"a": 1}\n{"a": 1,}\n')))
    assert bad.line == 2
    assert "invalid JSON" in bad.reason
    assert bad.raw == '{"a": 1,}'


@pytest.mark.parametrize("block_bytes", [7, 16, 64, 1024])
def test_block_boundaries_change_nothing(block_bytes):
    data = (
        b'{"a": 1}\n{"b": "two"}{"c": 3}\n{\n "d":\n 4\n}\n\nnot json\n'
        + b'{"e": "\xc3\xa9t\xc3\xa9"}\n' * 5
        + b'{"f": 6}'
    )
    assert read(data, block_bytes=block_bytes) == read(data)


def test_a_large_file_is_streamed_in_blocks():
    line = b'{"artist": "x", "ts": 1541106106796}\n'
    data = line * 20_000
    records = read(data, block_bytes=4096)
    assert len(records) == 20_000
    assert records[-1] == (20_000, {"artist": "x", "ts": 1541106106796})


# ---------------------------------------------------------------------------
# Records and lines: many on a line, one over lines, broken ones counted once
# ---------------------------------------------------------------------------


def test_many_objects_on_one_line_are_each_a_record_however_long_the_line():
    """Redshift's 4 MB limit is per JSON object, not per line."""
    objects = [{"item": item, "song": "x" * 40} for item in range(120_000)]  # a line of about 7 MB
    line = " ".join(json.dumps(value) for value in objects).encode()
    assert len(line) > MAX_RECORD_BYTES
    assert read(line + b'\n{"after": 1}\n') == [(1, value) for value in objects] + [(2, {"after": 1})]


def test_a_bad_object_among_many_on_one_line_is_the_only_one_rejected():
    line = b'{"a": 1} {"a": 2,} {"a": 3}' + b' {"a": 4}' * 50_000
    got = read(line + b"\n")
    assert got[:3] == [(1, {"a": 1}), (1, "REJECTED", "invalid JSON: Expecting property name enclosed in double "
                                                    "quotes (column 18)"), (1, {"a": 3})]
    assert len(got) == 50_003


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a": "one record\n broken in a string", "b": 1}\n', id="a line break in a string"),
        pytest.param(b'{"a": 12\n34, "b": 1}\n', id="a line break in a number"),
        pytest.param(b'{"a": tr\nue, "b": 1}\n', id="a line break in a word"),
        pytest.param(b'{"a": "x\n", "b": "}{[]", "c": 1}\n', id="braces in the strings after the break"),
        pytest.param(b'{"a": 1,\n"b": tru,\n"c": [1,\n2]\n}\n', id="a bad value in an object over lines"),
        pytest.param(b'{"a": 1,\n"b": 2\n\n', id="cut short, and what follows does not begin with {"),
        pytest.param(b'{"a": "\\\n", "b": 1}\n', id="a line break after a backslash"),
    ],
)
def test_an_object_broken_across_lines_is_one_rejected_record_at_its_first_line(data):
    assert [item[:2] for item in read(data + b'{"next": 1} {"next": 2}\n')] == [
        (1, "REJECTED"), (data.count(b"\n") + 1, {"next": 1}), (data.count(b"\n") + 1, {"next": 2}),
    ]


def test_an_object_cut_short_ends_before_the_next_line_that_begins_with_a_brace():
    data = b'{"a": 1}\n{"a": 2, "b": "cut sho\n[1, 2]\n  {"a": 3}\n'
    assert [item[:2] for item in read(data)] == [(1, {"a": 1}), (2, "REJECTED"), (4, {"a": 3})]


def test_a_rejected_record_keeps_its_whole_text_and_says_where_the_error_is():
    [bad] = list(read_records(io.BytesIO(b'{"a": 1,\n "b": "x\n y"}')))
    assert (bad.line, bad.raw) == (1, '{"a": 1,\n "b": "x\n y"}')
    assert bad.reason == "invalid JSON: Invalid control character at (line 2, column 9)"


def test_an_object_over_the_limit_is_one_record_and_the_objects_after_it_on_its_line_are_read():
    big = json.dumps({"a": "x" * MAX_RECORD_BYTES}).encode()
    got = read(b'{"a": 1} ' + big + b' {"a": 2}\n{"a": 3}\n', block_bytes=1024 * 1024)
    assert [item[:2] for item in got] == [(1, {"a": 1}), (1, "REJECTED"), (1, {"a": 2}), (2, {"a": 3})]
    assert "larger than the limit" in got[1][2]


# The model: what the data contract says each generated piece of a file is, written without the reader.

LIMIT = 400  # the record limit in these tests, so that an object over it stays small
STRING_CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Cs"])  # any text, braces and quotes too
words = st.text(STRING_CHARACTERS, max_size=8)
scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(-1e6, 1e6) | words
flat_objects = st.dictionaries(st.text(STRING_CHARACTERS, max_size=5), scalars, max_size=4)
BAD_TOKENS = ["tru", "NaN", "Infinity", "01", "'x'", "1.", "+1", "nul", "\"a\" \"b\"", "\xff"]


def render(value, layout):
    """(JSON text, where a line break would fall inside a token): an object, written token by token."""
    ascii_only = layout != "utf-8"
    tokens = [("{", False)]
    for number, (key, item) in enumerate(value.items()):
        if number:
            tokens.append(("," + ("\n  " if layout == "pretty" else " " if layout == "spaced" else ""), False))
        elif layout == "pretty":
            tokens.append(("\n  ", False))
        tokens += [(json.dumps(key, ensure_ascii=ascii_only), True), (": " if layout != "compact" else ":", False),
                   (json.dumps(item, ensure_ascii=ascii_only), True)]
    tokens.append(("\n}" if layout == "pretty" and value else "}", False))
    text, inside = "", []
    for token, splittable in tokens:
        if splittable:  # never right after a backslash: "\" then a line break then "\"" would end the string
            inside += [len(text) + at for at in range(1, len(token)) if token[at - 1] != "\\"]
        text += token
    return text, inside


@st.composite
def pieces(draw):
    """One piece of a file: (kind, its text, the value a good one loads)."""
    kind = draw(st.sampled_from(["good", "good", "good", "not an object", "bad token", "broken across lines",
                                 "cut short", "over the limit"]))
    layout = draw(st.sampled_from(["compact", "spaced", "pretty", "utf-8"]))
    if kind == "not an object":
        value = draw(st.lists(st.integers(0, 99), max_size=3) | st.integers(0, 99) | st.booleans()
                     | st.text("abc xyz", max_size=6))
        return kind, json.dumps(value), None
    value = draw(flat_objects)
    if kind == "over the limit":
        value["padding"] = "y" * LIMIT
    text, inside = render(value, layout)
    if kind == "good" or kind == "over the limit":
        return kind, text, value
    if kind == "bad token":
        value.setdefault("k", 0)
        text, inside = render(value, layout)
        last_value = text.rindex(json.dumps(value[list(value)[-1]], ensure_ascii=layout != "utf-8"))
        bad = draw(st.sampled_from(BAD_TOKENS))
        end = last_value + len(json.dumps(value[list(value)[-1]], ensure_ascii=layout != "utf-8"))
        return kind, text[:last_value] + bad + text[end:], None
    if kind == "broken across lines":
        breaks = [at for at in inside if not text[at:].lstrip(" \t\r").startswith("{")]
        assume(breaks)
        at = draw(st.sampled_from(breaks))
        return kind, text[:at] + "\n" + text[at:], None
    at = draw(st.integers(1, len(text) - 1))  # cut short: a proper prefix never closes
    return kind, text[:at], None


GAPS = ["\n", "\r\n", "\n\n", " \n  ", "\t", " ", ""]


@st.composite
def files(draw):
    """(file bytes, [(line, value) of each record, or (line, 'REJECTED', why) of each rejected one])."""
    text, expected = "", []
    items = draw(st.lists(pieces(), max_size=10))
    for number, (kind, piece, value) in enumerate(items):
        after_cut = number > 0 and items[number - 1][0] == "cut short"
        if after_cut:  # what may follow a cut object: lines that do not begin with "{" belong to it
            text += "\n" + "".join(f"[{n}, {n}]\n" for n in range(draw(st.integers(0, 2))))
            assume(piece.startswith("{"))
        elif number:
            gaps = [gap for gap in GAPS if gap or piece[0] in "{[\""]
            text += draw(st.sampled_from(gaps))
        line = text.count("\n") + 1
        if kind in ("good",):
            expected.append((line, value))
        elif kind == "not an object":
            expected.append((line, "REJECTED", "expected a JSON object"))
        elif kind == "over the limit":
            expected.append((line, "REJECTED", "larger than the limit"))
        else:
            expected.append((line, "REJECTED", ""))
        text += piece
    text += draw(st.sampled_from(["", "\n", "\r\n", "  "]))
    data = text.encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff")
    return data, expected


@settings(max_examples=300, deadline=None)
@given(file=files(), block_bytes=st.sampled_from([7, 64, 4096, 8 * 1024 * 1024]))
def test_every_object_is_read_or_rejected_once_at_the_line_where_it_starts(file, block_bytes):
    data, expected = file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_records, "MAX_RECORD_BYTES", LIMIT)
        got = read(data, block_bytes=block_bytes)
    assert [item[:2] for item in got] == [item[:2] for item in expected]
    for item, model in zip(got, expected):
        if len(model) == 3:
            assert model[2] in item[2]
