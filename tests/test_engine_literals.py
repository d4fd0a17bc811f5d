"""Every value an engine sends is quoted by that engine, or bound by its driver: it reaches the database as it was.

PostgreSQL reads a backslash in a standard string literal as itself;
Redshift reads it as an escape, and its QUOTE_LITERAL doubles it
(https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html). A
literal quoted by the other engine's rule stores another text: a log file
named ``a\\b.json`` was recorded in the ledger as ``a\\\\b.json``, and every
daily run staged it again and failed on the ledger's key.
"""

import json

import pytest
from helpers import event, song, write_source
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sparkify.api import run
from sparkify.engines import ENGINES, PostgresEngine, RedshiftEngine

# Any text a name, a path or a config value can hold: quotes, backslashes, newlines, any plane; never NUL,
# which no SQL text can carry.
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)
HOSTILE = ["a\\b", "it's", "\\'", "'\\", "\\\\'; DROP TABLE x; --", "line\nbreak\r\n", "é \u2028 😀", "%s %%", ""]


def names_of_the_ledger(warehouse):
    return [name for (name,) in warehouse.query("SELECT file_key FROM loaded_files ORDER BY file_key")]


@pytest.mark.parametrize("name", ["2018-11-01-a\\b.json", "2018-11-01-it's.json", "2018-11-01-a\\'b\\\\.json"])
def test_a_file_name_with_a_backslash_or_a_quote_is_recorded_as_named_and_not_staged_again(
        warehouse, tmp_path, name):
    source = write_source(tmp_path / "source", songs=[song()], log_files={name: json.dumps(event()) + "\n"})
    warehouse.create()
    first = run(warehouse.connection, "postgres", source, full=False, allow_empty=True)
    assert first.committed
    assert f"log_data/2018/11/{name}" in names_of_the_ledger(warehouse)
    again = run(warehouse.connection, "postgres", source, full=False, allow_empty=True)
    assert again.nothing_new, again.reason
    assert warehouse.count("songplay_table") == 1


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("text", HOSTILE)
def test_each_engines_literal_reads_back_as_the_text(warehouse, engine, text):
    assert read_back(warehouse, ENGINES[engine], text) == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_text_round_trips_through_the_postgres_engines_literal_on_the_real_server(warehouse, text):
    assert read_back(warehouse, PostgresEngine, text) == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_text_round_trips_through_the_redshift_engines_literal(warehouse, text):
    literal = RedshiftEngine.literal(text)
    assert redshift_reads(literal) == (text, len(literal))
    assert read_back(warehouse, RedshiftEngine, text) == text


@given(text=TEXT)
def test_bound_values_are_quoted_by_the_engine_that_sends_them(text):
    statement = "INSERT INTO t VALUES (%s, %s, 'a%%b')"
    for engine in (PostgresEngine, RedshiftEngine):
        sent = engine.inline(statement, (text, 7))
        assert sent == f"INSERT INTO t VALUES ({engine.literal(text)}, 7, 'a%b')"


def test_a_nul_character_is_refused_rather_than_cut():
    for engine in (PostgresEngine, RedshiftEngine):
        with pytest.raises(ValueError, match="NUL"):
            engine.literal("a\x00b")


def read_back(warehouse, engine, text):
    """What the database stores for ``engine``'s literal of ``text``.

    Redshift is not here: PostgreSQL's escape strings (E'...') read backslashes
    by the rules Redshift documents for its literals, so the Redshift engine's
    literal is read as one of them.
    """
    literal = engine.literal(text)
    prefix = "E" if engine is RedshiftEngine else ""
    return warehouse.query(f"SELECT {prefix}{literal}")[0][0]


def redshift_reads(literal: str):
    """(the text, characters read) of a string literal at the start of ``literal``, by the rules of Redshift:
    two single quotes are one, and a backslash escapes the character after it
    (https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html doubles quotes and backslashes).
    """
    assert literal[0] == "'"
    escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
    text, position = [], 1
    while True:
        character = literal[position]
        if character == "\\":
            following = literal[position + 1]
            text.append(escapes.get(following, following))
            position += 2
        elif character == "'":
            if literal[position + 1:position + 2] == "'":
                text.append("'")
                position += 2
            else:
                return "".join(text), position + 1
        else:
            text.append(character)
            position += 1


def test_the_model_of_redshifts_literals_reads_its_documented_examples():
    # QUOTE_LITERAL('''CAT''') gives '''CAT''' (the page's first example); a backslash is doubled
    assert redshift_reads("'''CAT'''") == ("'CAT'", 9)
    assert redshift_reads("'a\\\\b' rest") == ("a\\b", 6)


LEDGER_ROW = st.tuples(TEXT, TEXT, st.integers(0, 2**62), st.none() | st.integers(0, 2**62), st.integers(0, 2**62))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(LEDGER_ROW, max_size=4, unique_by=lambda row: row[0]))
@example(rows=[("\\.", "", 0, None, 0), ("", "a\"b,\r\nc", 1, 2, 3), ("\\N", "\\", 4, 5, 6)])
def test_ledger_rows_copied_by_the_postgres_engine_read_back_as_they_were(warehouse, rows):
    """The ledger goes to PostgreSQL in one COPY (FORMAT csv): a name such as ``\\.``, a quote, a comma, a
    line break or an empty text is stored as it is, and a missing count as NULL."""
    warehouse.create()
    written = [[name, "/source, \"x\"", "staging_events", size, version, staged, rejected, "2026-01-02 03:04:05"]
               for name, version, size, staged, rejected in rows]
    with PostgresEngine().cursor_on(warehouse.connection) as cursor:
        PostgresEngine().record_rows(cursor, "loaded_files", written)
    warehouse.connection.commit()
    stored = warehouse.query("SELECT file_key, source, table_name, size, version, rows_staged, rows_rejected, "
                             "to_char(loaded_at, 'YYYY-MM-DD HH24:MI:SS') FROM loaded_files")
    assert sorted(map(list, stored)) == sorted(written)
