"""Trailing blanks: Redshift ignores them when it compares VARCHARs, and the warehouse is the same anyway.

On Redshift ``'NextSong ' = 'NextSong'``, ``'X ' = 'X'`` and ``'  ' = ''``
(https://docs.aws.amazon.com/redshift/latest/dg/r_Examples_with_character_types.html):
a filter, a join, a DISTINCT, a PARTITION BY or a tie-break on text would
treat values as one that PostgreSQL, and the data contract, keep apart. Every
such place in the loads and the checks also compares the byte lengths
(docs/data-contract.md#ordering-rules).

Each test loads the same source twice on the embedded PostgreSQL: as it is,
and with every text column compared as Redshift compares it
(fake_redshift.RedshiftTextPostgres), and expects the same warehouse, row for
row and byte for byte: after a full load, and after a daily run on top of it.
"""

import json
import tempfile
from pathlib import Path

import pytest
from fake_redshift import RedshiftTextPostgres
from helpers import Warehouse, event, song, write_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkify import api
from sparkify.engines import PostgresEngine
from sparkify.engines.embedded import fresh_schema
from sparkify.run.pipeline import Request, run
from sparkify.sources import open_source

DAY_2 = "2018-11-02-events.json"


class Twin:
    """One schema loaded by an engine, read back as sorted rows (ties between 'X' and 'X ' have no order)."""

    def __init__(self, dsn, schema, engine):
        self.engine = engine
        self.warehouse = Warehouse(fresh_schema(dsn, schema))
        api.create_tables(self.warehouse.connection, engine)

    def load(self, folder, full=True):
        """A full load replaces the previous test's source (--replace-source); a daily run continues it."""
        source = open_source(str(folder))
        request = Request(full=full, allow_empty=True, replace_source=full)
        return run(self.warehouse.connection, self.engine, source, request)

    def rows(self):
        return {table: sorted(rows, key=repr) for table, rows in self.warehouse.snapshot().items()}


@pytest.fixture(scope="module")
def twins(dsn):
    """The same tables twice: compared as PostgreSQL compares text, and as Redshift does."""
    exact = Twin(dsn, "test_trailing_blanks_exact", PostgresEngine())
    blank_blind = Twin(dsn, "test_trailing_blanks_redshift", RedshiftTextPostgres())
    yield exact, blank_blind
    for twin in (exact, blank_blind):
        twin.warehouse.connection.close()


def load_both(twins, folder, full=True):
    """Load ``folder`` into both twins; each one's rows, and the results."""
    results = [twin.load(folder, full) for twin in twins]
    return [twin.rows() for twin in twins], results


def assert_same_warehouse(twins, folder, full=True):
    (exact, blank_blind), results = load_both(twins, folder, full)
    for table in exact:
        assert blank_blind[table] == exact[table], f"{table}: Redshift's comparison gives other rows"
    assert counts(results[1]) == counts(results[0]), "Redshift's comparison gives other figures"
    assert [check.passed for check in results[1].checks] == [True] * len(results[1].checks)
    return exact


def counts(result):
    """The summary's row count of each step that writes a table's rows (the twin has no keys to build or
    validate: PostgreSQL's key steps count keys, not rows, and name no table)."""
    return {step.name: step.rows for step in result.steps if step.table is not None and step.rows is not None}


def test_the_twin_compares_text_as_redshift_does(twins):
    """The premise: in the Redshift twin, trailing blanks are insignificant and still counted as bytes."""
    _, blank_blind = twins
    rows = blank_blind.warehouse.query(blank_blind.engine.render(
        "INSERT INTO staging_songs (song_id, artist_name) VALUES ('X', '  '), ('X ', 'A  ') "
        "RETURNING song_id = 'X', artist_name = '', OCTET_LENGTH(song_id), LENGTH(artist_name)"
    ))
    # equal ignoring the blanks; OCTET_LENGTH and LENGTH count them (r_LEN)
    assert rows == [(True, True, 1, 2), (True, False, 2, 3)]


def test_a_blank_only_artist_name_is_a_name(twins, tmp_path):
    """The contract keeps "  " as a name ("Empty" is NULL or ""); Redshift's `artist_name <> ''` drops it."""
    folder = write_source(tmp_path, songs=[song(artist_name="  ")])
    rows = assert_same_warehouse(twins, folder)
    assert [(row[0], row[1]) for row in rows["artist_table"]] == [("ARMJAGH1187FB546F3", "  ")]


def test_a_page_with_a_trailing_blank_is_not_a_play(twins, tmp_path):
    """'NextSong ' is another page: Redshift's `page = 'NextSong'` would take it for a play."""
    folder = write_source(tmp_path, events=[event(), event(itemInSession=2, page="NextSong ")])
    rows = assert_same_warehouse(twins, folder)
    assert len(rows["songplay_table"]) == 1 and len(rows["time_table"]) == 1


def test_ids_that_differ_by_a_trailing_blank_are_two_keys(twins, tmp_path):
    """'X' and 'X ' are two song ids and two artist ids: two rows each, each key unique and found."""
    folder = write_source(
        tmp_path,
        events=[event(song="T", artist="A"), event(itemInSession=2, song="T ", artist="A ")],
        songs=[song(song_id="X", artist_id="X", title="T", artist_name="A"),
               song(song_id="X ", artist_id="X ", title="T ", artist_name="A ")],
    )
    rows = assert_same_warehouse(twins, folder)
    assert sorted(row[0] for row in rows["song_table"]) == ["X", "X "]
    assert sorted(row[0] for row in rows["artist_table"]) == ["X", "X "]
    assert sorted((row[3], row[4]) for row in rows["songplay_table"]) == [("X", "X"), ("X ", "X ")]


def test_a_tie_break_on_text_does_not_tie_on_a_trailing_blank(twins, tmp_path):
    """Two copies of one event that differ only by a trailing blank: the contract's order picks one."""
    folder = write_source(tmp_path, events=[event(userAgent="M "), event(userAgent="M"), event(level="free "),
                                            event(ts=1541106106797, level="paid ", itemInSession=3),
                                            event(ts=1541106106797, level="paid", itemInSession=3)])
    rows = assert_same_warehouse(twins, folder)
    # each play: its first copy in (level, ..., user_agent) order; the user: the greatest level of the latest event
    assert [(row[2], row[-1]) for row in rows["songplay_table"]] == [("free", "M"), ("paid", event()["userAgent"])]
    assert [row[-1] for row in rows["user_table"]] == ["paid "]


def test_a_daily_run_keeps_keys_apart_that_differ_by_a_trailing_blank(twins, tmp_path):
    folder = write_source(tmp_path, events=[event(song="T", artist="A")],
                          songs=[song(song_id="X", artist_id="X", title="T", artist_name="A")])
    assert_same_warehouse(twins, folder)
    (folder / "log_data" / "2018" / "11" / DAY_2).write_text(
        json.dumps(event(ts=1541206106796, song="T ", artist="A ", page="NextSong")) + "\n"
        + json.dumps(event(ts=1541206106796, itemInSession=2, page="NextSong ")) + "\n")
    (folder / "song_data" / "A" / "B" / "C" / "TRABC0000000000009.json").write_text(
        json.dumps(song(song_id="X ", artist_id="X ", title="T ", artist_name="A ")))
    rows = assert_same_warehouse(twins, folder, full=False)
    assert sorted(row[0] for row in rows["artist_table"]) == ["X", "X "]
    assert len(rows["songplay_table"]) == 2


def test_a_daily_upsert_updates_a_key_and_inserts_the_one_a_trailing_blank_apart(twins, tmp_path):
    """New records of song and artist 'X' update their rows; those of 'X ' are new rows beside them. Each
    row upserted is counted once, as one MERGE would count it: updated or inserted."""
    folder = write_source(tmp_path, events=[event(song="T", artist="A")],
                          songs=[song(song_id="X", artist_id="X", title="T", artist_name="A")])
    assert_same_warehouse(twins, folder)
    song_dir = folder / "song_data" / "A" / "B" / "C"
    (song_dir / "TRABC0000000000008.json").write_text(
        json.dumps(song(song_id="X", artist_id="X", title="T", artist_name="A", year=2001)))
    (song_dir / "TRABC0000000000009.json").write_text(
        json.dumps(song(song_id="X ", artist_id="X ", title="U", artist_name="B")))
    (exact, blank_blind), results = load_both(twins, folder, full=False)
    assert blank_blind == exact
    assert sorted((row[0], row[1]) for row in exact["song_table"]) == [("X", "T"), ("X ", "U")]
    assert sorted((row[0], row[1]) for row in exact["artist_table"]) == [("X", "A"), ("X ", "B")]
    for result in results:
        assert result.mode == "daily" and all(check.passed for check in result.checks)
        assert counts(result)["song_table: rows upserted"] == 2
        assert counts(result)["artist_table: rows upserted"] == 2


# ---------------------------------------------------------------------------
# The kind: any records whose text differs only by trailing blanks
# ---------------------------------------------------------------------------


def spelled(*words):
    """One of ``words``, with no, one or two trailing blanks."""
    return st.tuples(st.sampled_from(words), st.sampled_from(["", " ", "  "])).map("".join)


EVENTS = st.lists(st.builds(
    event,
    page=spelled("NextSong", "Home"),
    userId=st.sampled_from(["8", "9", ""]),
    firstName=spelled("K"),
    gender=spelled("F"),
    level=spelled("free", "paid"),
    song=spelled("T", ""),
    artist=spelled("A", ""),
    length=st.sampled_from([200.0, 246.30812]),
    location=spelled("P"),
    userAgent=spelled("M"),
    sessionId=st.integers(1, 2),
    itemInSession=st.integers(1, 2),
    ts=st.sampled_from([1541106106796, 1541106206796]),
), min_size=1, max_size=6)

SONGS = st.lists(st.builds(
    song,
    song_id=spelled("S1", "S2") | st.none(),
    artist_id=spelled("A1", "A2"),
    artist_name=spelled("A", ""),
    artist_location=spelled("L", ""),
    title=spelled("T", ""),
    duration=st.sampled_from([200.0, 246.30812]),
), max_size=4)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day_1=EVENTS, day_2=EVENTS, songs=SONGS, late_songs=SONGS)
def test_records_that_differ_by_trailing_blanks_load_alike_on_both_engines(twins, day_1, day_2, songs, late_songs):
    """A full load, then a daily run with a new day of events and new song files."""
    with tempfile.TemporaryDirectory() as folder:
        folder = write_source(folder, events=day_1, songs=songs)
        assert_same_warehouse(twins, folder)
        (Path(folder) / "log_data" / "2018" / "11" / DAY_2).write_text(
            "".join(json.dumps(record) + "\n" for record in day_2))
        for number, record in enumerate(late_songs):
            (Path(folder) / "song_data" / "A" / "B" / "C" / f"TRABL{number:013d}.json").write_text(json.dumps(record))
        assert_same_warehouse(twins, folder, full=False)

