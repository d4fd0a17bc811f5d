"""SQL text cut into its statements where the server's lexer cuts it.

query.py runs a person's SQL one statement at a time, each in a transaction
that it holds read-only unless told to write (sparkify/engines/user_sql.py).
That is only as safe as the cut: text that query.py sends as one statement
must never be two to the server, or ``SELECT 1; COMMIT; DELETE ...`` would
end the read-only transaction inside one message. So this is a lexer, after
PostgreSQL's own (src/backend/parser/scan.l, and psql's psqlscan.l for where a
statement ends), not a search for semicolons. A ``;`` ends a statement only
outside:

- string constants: ``'...'`` (``''`` is a quote), ``E'...'`` (a backslash
  escapes the next character), ``B'...'``, ``X'...'``, ``N'...'``,
  ``U&'...'``, and a constant continued on the next line (``'a'`` newline
  ``'b'`` is one constant, of the first one's kind);
- quoted identifiers: ``"..."`` and ``U&"..."``;
- dollar-quoted bodies: ``$tag$ ... $tag$`` (a ``$`` inside a name, as in
  ``a$b$``, starts none);
- comments: ``-- ...`` to the end of the line, and ``/* ... */``, which nest;
- parentheses, and the ``BEGIN ... END`` body of a ``CREATE FUNCTION`` or
  ``CREATE PROCEDURE`` (psql's rule).

Servers do not all read a text alike: with ``standard_conforming_strings``
off (Redshift, or a PostgreSQL session that turns it off) a backslash escapes
a quote inside ``'...'``, and an older lexer may not nest comments. A
statement that some reading would cut in two is refused (``AmbiguousSQL``):
what query.py sends is one statement, or nothing, under every reading.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    """How a server reads the parts of SQL text that differ between servers."""

    backslash_quotes: bool = False  # '...' takes backslash escapes (standard_conforming_strings off)
    nested_comments: bool = True  # /* /* */ */ is one comment (PostgreSQL since 7.1)


STANDARD = Reading()
READINGS = tuple(Reading(backslashes, nested) for backslashes in (False, True) for nested in (True, False))


@dataclass(frozen=True)
class Statement:
    text: str  # from its first token to the character before its ';' (or the end)
    start: int  # where ``text`` starts in the whole SQL
    line: int  # the line ``text`` starts on in the whole SQL, from 1
    words: tuple  # its bare words (keywords, names), upper case, each with its depth in parentheses
    balanced: bool = True  # every parenthesis it opens, it closes, and it closes none it did not open

    @property
    def first_word(self) -> str:
        return self.words[0][0] if self.words else ""

    def has_word(self, *words, depth=None) -> bool:
        """Whether the statement holds one of ``words`` as a bare word (at that parentheses depth, if given)."""
        return any(word in words and (depth is None or level == depth) for word, level in self.words)


class AmbiguousSQL(ValueError):
    """A statement that one server would read as one statement and another as several."""

    def __init__(self, statement: Statement):
        super().__init__(
            f"the statement at line {statement.line} is one statement or several depending on how the server "
            "reads backslashes in '...' strings or comments inside comments: write a backslash-escaped string as "
            "E'...', a quote inside a string as '', and close each /* comment before opening another"
        )
        self.statement = statement


def balanced_everywhere(statement: Statement) -> bool:
    """Whether the statement's parentheses balance under every reading: only then may it be wrapped in
    parentheses of ours (``COPY (...) TO STDOUT``) and stay what it was."""
    for reading in READINGS:
        parts = cut(statement.text, reading)
        if len(parts) != 1 or not parts[0].balanced:
            return False
    return True


def split(sql: str, reading: Reading = STANDARD) -> list[Statement]:
    """The statements of ``sql`` as a server of ``reading`` cuts them; empty ones (``;;``, comments) left out.

    Raises AmbiguousSQL when any of them is not one statement under every reading.
    """
    statements = cut(sql, reading)
    for statement in statements:
        for other in READINGS:
            if other != reading and len(cut(statement.text, other)) > 1:
                raise AmbiguousSQL(statement)
    return statements


# ---------------------------------------------------------------------------
# The lexer
# ---------------------------------------------------------------------------

WHITESPACE = " \t\n\r\f\v"
_DIGITS = "0123456789"
# A dollar-quote delimiter: $$ or $tag$, a tag being a name without "$" (scan.l: dolqdelim)
_DOLLAR_QUOTE = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*)?\$")
# What continues a string constant on a later line: whitespace holding a newline (comments allowed), then a
# quote (scan.l: quotecontinue)
_CONTINUED = re.compile(r"(?:[ \t\f\v]|--[^\n\r]*)*[\n\r](?:[ \t\n\r\f\v]+|--[^\n\r]*[\n\r])*'")
_PREFIXED = {"E": True, "B": False, "X": False}  # prefix -> whether a backslash escapes (N: as '...')


def is_name_start(character: str) -> bool:
    return character.isascii() and (character.isalpha() or character == "_") or not character.isascii()


def is_name_part(character: str) -> bool:
    return is_name_start(character) or character in _DIGITS or character == "$"


def cut(sql: str, reading: Reading = STANDARD) -> list[Statement]:
    """The statements of ``sql`` under one reading, unchecked against the others."""
    statements = []
    first = None  # where the current statement's first token starts
    words = []
    depth = begin_depth = 0
    unopened = False  # a ")" closed a parenthesis the statement did not open
    i, n = 0, len(sql)
    counted = [0, 1]  # the lines counted so far: up to this offset, this line

    def end_statement(end):
        if first is not None:
            counted[:] = first, counted[1] + sql.count("\n", counted[0], first)
            statements.append(Statement(sql[first:end].rstrip(WHITESPACE), first, counted[1], tuple(words),
                                        balanced=not unopened and depth == 0))

    while i < n:
        character = sql[i]
        if character in WHITESPACE:
            i += 1
            continue
        if sql.startswith("--", i):
            i = line_end(sql, i)
            continue
        if sql.startswith("/*", i):
            i = comment_end(sql, i, reading.nested_comments)
            continue
        if character == ";" and depth == 0 and begin_depth == 0:
            end_statement(i)
            first, words, unopened, i = None, [], False, i + 1
            continue
        if first is None:
            first = i
        if character == "'":
            i = string_end(sql, i + 1, reading.backslash_quotes)
        elif character == '"':
            i = quoted_name_end(sql, i + 1)
        elif character == "$":
            delimiter = _DOLLAR_QUOTE.match(sql, i)
            if delimiter:
                close = sql.find(delimiter.group(), delimiter.end())
                i = n if close < 0 else close + len(delimiter.group())
            else:
                i += 1  # a parameter ($1) or a lone "$": the digits are a number
        elif is_name_start(character):
            j = i + 1
            while j < n and is_name_part(sql[j]):
                j += 1
            word = sql[i:j].upper()
            if j < n and sql[j] == "'" and word in (*_PREFIXED, "N"):
                i = string_end(sql, j + 1, _PREFIXED.get(word, reading.backslash_quotes))
            elif word == "U" and sql.startswith("&'", j):
                i = string_end(sql, j + 2, False)
            elif word == "U" and sql.startswith('&"', j):
                i = quoted_name_end(sql, j + 2)
            else:
                begin_depth = function_body_depth(words, word, depth, begin_depth)
                words.append((word, depth))
                i = j
        elif character == "(":
            depth, i = depth + 1, i + 1
        elif character == ")":
            unopened = unopened or depth == 0
            depth, i = max(depth - 1, 0), i + 1
        elif character in _DIGITS:
            while i < n and sql[i] in _DIGITS:
                i += 1
        else:
            i += 1
    end_statement(n)
    return statements


def line_end(sql: str, i: int) -> int:
    """Past a -- comment: at the newline (\\n or \\r) that ends it, or the end."""
    ends = [end for end in (sql.find("\n", i), sql.find("\r", i)) if end >= 0]
    return min(ends) if ends else len(sql)


def comment_end(sql: str, i: int, nested: bool) -> int:
    """Past the /* comment starting at ``i`` (unterminated: the end)."""
    depth, i = 1, i + 2
    while depth:
        close = sql.find("*/", i)
        opening = sql.find("/*", i) if nested else -1
        if close < 0:
            return len(sql)
        if 0 <= opening < close:
            depth, i = depth + 1, opening + 2
        else:
            depth, i = depth - 1, close + 2
    return i


def string_end(sql: str, i: int, backslashes: bool) -> int:
    """Past the string constant whose text starts at ``i`` (after its opening quote), continued lines and all."""
    n = len(sql)
    while i < n:
        character = sql[i]
        if character == "\\" and backslashes:
            i += 2
        elif character == "'":
            if sql.startswith("''", i):
                i += 2
                continue
            continued = _CONTINUED.match(sql, i + 1)
            if not continued:
                return i + 1
            i = continued.end()
        else:
            i += 1
    return n


def quoted_name_end(sql: str, i: int) -> int:
    """Past the quoted identifier whose text starts at ``i`` ("" is a quote)."""
    n = len(sql)
    while i < n:
        close = sql.find('"', i)
        if close < 0:
            return n
        if not sql.startswith('""', close):
            return close + 1
        i = close + 2
    return n


def function_body_depth(words, word: str, depth: int, begin_depth: int) -> int:
    """psql's rule for the body of CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END: the
    ``;`` inside it end no statement. BEGIN opens it, CASE (inside it) opens one more, END closes one."""
    head = [w for w, _ in words[:4]]
    creating = head[:1] == ["CREATE"] and (head[1:2] in (["FUNCTION"], ["PROCEDURE"])
                                           or head[1:4] in (["OR", "REPLACE", "FUNCTION"],
                                                            ["OR", "REPLACE", "PROCEDURE"]))
    if not creating or depth:
        return begin_depth
    if word == "BEGIN" or (word == "CASE" and begin_depth):
        return begin_depth + 1
    if word == "END" and begin_depth:
        return begin_depth - 1
    return begin_depth
