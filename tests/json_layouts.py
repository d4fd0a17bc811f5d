"""Files of JSON records in any arrangement, and what each of their records is, for property tests.

A Hypothesis strategy (``files``) writes good objects, values that are not
objects, objects with a bad value, objects broken across two lines by a stray
line break, objects cut short, and objects over the record limit; several on
a line, one over several lines, blank lines between. What each piece is comes
from how it was written, never from a parser, by the data contract's rules
(docs/data-contract.md#rejected-records):

- a good object is one record, at the line where it starts;
- anything else is one rejected record, at the line where it starts;
- the lines after an object cut short that do not begin with ``{`` belong to
  it (they are written as ``[n, n]``).

A broken object is never followed, on the line after its break, by a ``{``:
such a line starts a new record by the same rules.
"""

import json

from hypothesis import assume
from hypothesis import strategies as st

STRING_CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
words = st.text(STRING_CHARACTERS, max_size=8)
scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(-1e6, 1e6) | words
flat_objects = st.dictionaries(st.text(STRING_CHARACTERS, max_size=5), scalars, max_size=4)

KINDS = ["good", "good", "good", "not an object", "a bad value", "broken across lines", "cut short",
         "over the limit"]
LAYOUTS = ["compact", "spaced", "pretty", "utf-8"]
NOT_UTF8 = "\x00"  # written as the byte 0xff, which is not UTF-8 (a NUL is never written otherwise)
BAD_VALUES = ["tru", "NaN", "Infinity", "01", "'x'", "1.", "+1", "nul", '"a" "b"', NOT_UTF8, f'"{NOT_UTF8}"']
GAPS = ["\n", "\r\n", "\n\n", " \n  ", "\t", " ", ""]


def render(value: dict, layout: str) -> tuple[str, list[int]]:
    """(the JSON text of an object, the places inside its tokens), written token by token."""
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


def piece(draw, kind, value, layout):
    """The text of one piece of a file."""
    if kind == "not an object":
        return json.dumps(draw(st.lists(st.integers(0, 99), max_size=3) | st.integers(0, 99) | st.booleans()
                               | st.text("abc xyz", max_size=6)))
    if kind == "a bad value":
        value = {**{key: item for key, item in value.items() if key != "last"}, "last": 0}
        text, _ = render(value, layout)  # ends with "last": 0 and the brace
        return text[:text.rindex("0")] + draw(st.sampled_from(BAD_VALUES)) + text[text.rindex("0") + 1:]
    text, inside = render(value, layout)
    if kind == "broken across lines":
        breaks = [at for at in inside if not text[at:].lstrip(" \t\r").startswith("{")]
        assume(breaks)
        at = draw(st.sampled_from(breaks))
        return text[:at] + "\n" + text[at:]
    if kind == "cut short":  # a proper prefix of an object never closes
        return text[:draw(st.integers(1, len(text) - 1))]
    return text


@st.composite
def files(draw, objects=flat_objects, limit=400, stamp=lambda value, number: value, max_pieces=10):
    """(the file's bytes, what it holds: (line, value) of each record, (line, "REJECTED", what the
    reason says) of each rejected one). ``stamp(value, number)`` gives the object of the number-th piece."""
    text, expected = "", []
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=max_pieces))
    for number, kind in enumerate(kinds):
        value = stamp(draw(objects), number)
        if kind == "over the limit":
            value = {**value, "padding": "y" * limit}
        written = piece(draw, kind, value, draw(st.sampled_from(LAYOUTS)))
        if number and kinds[number - 1] == "cut short":  # lines that do not begin with "{" belong to it
            text += "\n" + "".join(f"[{n}, {n}]\n" for n in range(draw(st.integers(0, 2))))
            assume(written.startswith("{"))
        elif number:
            text += draw(st.sampled_from([gap for gap in GAPS if gap or written[0] in '{["']))
        line = text.count("\n") + 1
        if kind == "good" and len(written.encode()) > limit:
            expected.append((line, "REJECTED", "larger than the limit"))
        elif kind == "good":
            expected.append((line, value))
        elif kind == "not an object":
            expected.append((line, "REJECTED", "expected a JSON object"))
        elif kind == "over the limit":
            expected.append((line, "REJECTED", "larger than the limit"))
        else:
            expected.append((line, "REJECTED", ""))
        text += written
    text += draw(st.sampled_from(["", "\n", "\r\n", "  "]))
    return text.encode("utf-8").replace(NOT_UTF8.encode(), b"\xff"), expected
