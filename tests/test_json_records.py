"""The JSON reader: every layout the real files use, and every bad record in its place."""

import io

import pytest

from sparkify.engines.local_loader.json_records import Record, Rejected, read_records


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
