"""Source data made safe to show and to store: escaped for a terminal, cut to a column's bytes.

A source file is data from elsewhere: its names and values may hold ESC
sequences (which can clear a screen or fake a line of output), carriage
returns, newlines, other control characters, bidirectional overrides, or
bytes that are not UTF-8. Every message built from source data quotes it
through ``printable()``, so that one line of output stays one honest line.

``clip()`` cuts a text to at most a number of UTF-8 *bytes* (VARCHAR(n) holds
n bytes on Redshift), never in the middle of a character, and says that it
cut with an ellipsis.
"""

import re

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional
# overrides and isolates, and lone surrogates (a name that was not UTF-8)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
ELLIPSIS = "\u2026"


def _escape(match) -> str:
    character = match.group()
    named = _NAMED.get(character)
    if named:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text) -> str:
    """``text`` with every character that could act on a terminal written as an escape (\\x1b, \\n, \\udcff...).

    Plain text comes back unchanged; ``None`` and other values are shown as str().
    """
    text = str(text)
    if text.isprintable() and text.isascii():
        return text
    return _UNPRINTABLE.sub(_escape, text)


def clip(text: str | None, max_bytes: int) -> str | None:
    """``text`` cut to at most ``max_bytes`` bytes of UTF-8, at a character boundary, ending in an
    ellipsis when it was cut. A lone surrogate (which UTF-8 cannot hold) is written as \\udXXX."""
    if text is None:
        return None
    if text.isascii() and len(text) <= max_bytes:
        return text
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= max_bytes:
        return data.decode("utf-8")
    mark = ELLIPSIS.encode("utf-8")
    # "ignore" drops the bytes of a character cut at the end: never half a character
    return data[:max_bytes - len(mark)].decode("utf-8", "ignore") + ELLIPSIS


def excerpt(text: str, characters: int = 40) -> str:
    """The start of ``text``, at most ``characters`` long, with an ellipsis and its length when cut."""
    if len(text) <= characters:
        return text
    return f"{text[:characters]}{ELLIPSIS} ({len(text):,} characters)"
