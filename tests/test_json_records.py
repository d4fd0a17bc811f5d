"""The JSON reader: every layout the real files use, and every bad record in its place."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from json_layouts import files

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
    objects = [{"item": item, "song": "x" * 40} for item in range(75_000)]  # a line of about 4.5 MB
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


LIMIT = 400  # the record limit in the property test, so that an object over it stays small


@settings(max_examples=300, deadline=None)
@given(file=files(limit=LIMIT), block_bytes=st.sampled_from([7, 64, 4096, 8 * 1024 * 1024]))
def test_every_object_is_read_or_rejected_once_at_the_line_where_it_starts(file, block_bytes):
    data, expected = file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_records, "MAX_RECORD_BYTES", LIMIT)
        got = read(data, block_bytes=block_bytes)
    assert [item[:2] for item in got] == [item[:2] for item in expected]
    for item, model in zip(got, expected):
        if len(model) == 3:
            assert model[2] in item[2]
