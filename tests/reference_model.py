"""An independent, pure-Python reading of the data contract (docs/data-contract.md).

Written from the data contract's words, not from the project's SQL, so that the tests can
hold the pipeline to the contract: ``expected_tables(*read_source(source))`` gives the rows
every star table must hold (``songplay_table`` without ``songplay_id``), in the
column order of the DDL.

The model covers valid input only: it does not model rejected records
(section 4) and raises ``ValueError`` on a value it cannot convert. Where docs/data-contract.md
gives a tie-break that does not decide between two records that would give
different rows, it raises ``Ambiguous`` rather than guess.
"""

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sql_queries import COLUMNS

# The staging tables' columns are named, not computed: the model takes their names and order from
# the one definition (the CREATE TABLEs), and computes everything else itself.
EVENT_COLUMNS = COLUMNS["staging_events"]
SONG_COLUMNS = COLUMNS["staging_songs"]
INTEGERS = {"item_in_session", "session_id", "status", "ts", "user_id", "num_songs", "year"}
FLOATS = {"length", "registration", "artist_latitude", "artist_longitude", "duration"}

EPOCH = datetime(1970, 1, 1)


class Ambiguous(Exception):
    """the data contract's rule does not single out one record here."""


# ---------------------------------------------------------------------------
# Section 1-2: reading a source into staged rows (dicts keyed by column)
# ---------------------------------------------------------------------------


def json_objects(text):
    """'a file may hold one object, several objects one per line, or objects
    separated by any whitespace; ... files may be empty'; '`NaN` and `Infinity`
    are not JSON'. Non-integer numbers are read as Decimal, exactly as written."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=not_json)
    position, objects = 0, []
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return objects
        value, position = decoder.raw_decode(text, position)
        objects.append(value)


def not_json(constant):
    raise ValueError(f"{constant} is not JSON (not modelled: a rejected record)")


def read_files(folder):
    # Interpretation: the order of files and of records does not matter to any
    # rule of section 3, so any order will do; sorted paths keep it stable.
    for path in sorted(Path(folder).rglob("*.json")):
        yield from json_objects(path.read_text(encoding="utf-8"))


def jsonpath_keys(source):
    """'log_json_path.json: the JSONPaths file that maps event keys to
    staging_events columns, in column order'. Only the one-key forms
    $['key'], $["key"] and $.key are modelled."""
    document = json.loads((Path(source) / "log_json_path.json").read_text(encoding="utf-8-sig"))
    keys = []
    for expression in document["jsonpaths"]:
        match = re.fullmatch(r"""\$(?:\[\s*'(.*)'\s*\]|\[\s*"(.*)"\s*\]|\.(\w+))""", expression)
        if not match:
            raise ValueError(f"JSONPath not modelled: {expression}")
        keys.append(next(group for group in match.groups() if group is not None))
    if len(keys) != len(EVENT_COLUMNS):
        raise ValueError("log_json_path.json does not have one path per staging_events column")
    return keys


def convert(column, value):
    """'A number in a JSON string ("userId": "39") is a valid value for a numeric
    column'; 'userId is a string, and "" for logged-out events' (-> NULL)."""
    if value is None:
        return None
    if column in INTEGERS or column in FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise ValueError(f"{column}: {value!r} is not a number")
        if value == "":
            return None  # Interpretation: an empty string in any numeric column is NULL, as userId's.
        if column in FLOATS:
            return float(value)
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        if number != number.to_integral_value():
            raise ValueError(f"{column}: {value!r} is not an integer")
        return int(number)
    if not isinstance(value, str):
        raise ValueError(f"{column}: {value!r} is not a string (not modelled)")
    return value


def as_written(value):
    """A number as the source file writes it (exact decimal), for the match rule."""
    if value is None or value == "":
        return None
    return Decimal(value.strip()) if isinstance(value, str) else Decimal(value)


def staging_events(source):
    """'staging_events - one row per event, columns in the order of
    log_json_path.json'. Each row also keeps ``length_as_written``."""
    keys = jsonpath_keys(source)
    rows = []
    for record in read_files(Path(source) / "log_data"):
        row = {column: convert(column, record.get(key)) for column, key in zip(EVENT_COLUMNS, keys)}
        row["length_as_written"] = as_written(record.get(keys[EVENT_COLUMNS.index("length")]))
        rows.append(row)
    return rows


def staging_songs(source):
    """'staging_songs - one row per song record' (keys named as the columns).
    Each row also keeps ``duration_as_written``."""
    rows = []
    for record in read_files(Path(source) / "song_data"):
        row = {column: convert(column, record.get(column)) for column in SONG_COLUMNS}
        row["duration_as_written"] = as_written(record.get("duration"))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# Section 3: the star schema
# ---------------------------------------------------------------------------


def low(value):
    """A sort key where 'NULL sorts lowest' and strings compare in code-point
    order (Python's own str order)."""
    return (0,) if value is None else (1, value)


def pick(records, key, attributes, reverse=False):
    """The record that sorts first by ``key`` (last with ``reverse``); Ambiguous
    if several records tie on ``key`` but differ in ``attributes``."""
    ranked = sorted(records, key=key, reverse=reverse)
    best = ranked[0]
    for other in ranked[1:]:
        if key(other) != key(best):
            break
        if attributes(other) != attributes(best):
            raise Ambiguous(f"tie between {best} and {other}")
    return best


def start_time(ts):
    """'TIMESTAMP 'epoch' + ts milliseconds, UTC, millisecond precision kept'."""
    return EPOCH + timedelta(milliseconds=ts)


def distinct_plays(events):
    """'An event is identified by (session_id, item_in_session, ts). The same
    event delivered twice ... is staged twice ... but counts once'.

    Interpretation: the copies of an event are identical (docs/data-contract.md: 'the same
    event'); if two copies would give different songplay rows, Ambiguous."""
    copies = {}
    for event in events:
        if event["page"] == "NextSong":
            copies.setdefault((event["session_id"], event["item_in_session"], event["ts"]), []).append(event)
    return copies


def match(event, catalog):
    """'from the catalog song whose title equals song and artist_name equals
    artist (exact, case-sensitive) and whose duration differs from length by
    less than 0.01 s. None -> both NULL. Several -> the one with the smallest
    song_id'; 'where the smallest song_id is shared by records with different
    artist_ids, the smallest artist_id wins'.

    ``catalog`` maps (title, artist_name) to the staged song records.
    Interpretations: 'the catalog' is song_table, whose key is non-null, so a
    staged song record without a song_id is no candidate; song_id and artist_id
    are those of the matching staged record; 'differs by less than 0.01 s' is
    decided on the numbers as the files write them, in exact decimal (in binary
    floating point 246.31812 - 246.30812 comes out just under 0.01)."""
    length = event["length_as_written"]
    candidates = [
        (song["song_id"], song["artist_id"])
        for song in catalog.get((event["song"], event["artist"]), ())
        if song["song_id"] is not None
        and length is not None and song["duration_as_written"] is not None
        and abs(song["duration_as_written"] - length) < Decimal("0.01")
    ]
    if not candidates:
        return None, None
    return min(candidates, key=lambda ids: (low(ids[0]), low(ids[1])))


def catalog_of(songs):
    """The song records by (title, artist_name): an index, to keep matching fast.
    A NULL title or name equals nothing, so such records are left out."""
    catalog = {}
    for song in songs:
        if song["title"] is not None and song["artist_name"] is not None:
            catalog.setdefault((song["title"], song["artist_name"]), []).append(song)
    return catalog


def songplay_rows(events, songs):
    """'exactly one row per distinct staged event whose page = 'NextSong' ...
    all plays, matched to the catalog or not'. Columns: start_time, user_id,
    level, song_id, artist_id, session_id, item_in_session, location,
    user_agent."""
    catalog, rows = catalog_of(songs), []
    for (session_id, item_in_session, ts), copies in distinct_plays(events).items():
        versions = set()
        for event in copies:
            song_id, artist_id = match(event, catalog)
            versions.add((start_time(ts), event["user_id"], event["level"], song_id, artist_id,
                          session_id, item_in_session, event["location"], event["user_agent"]))
        if len(versions) > 1:
            raise Ambiguous(f"copies of one event give different plays: {sorted(versions, key=repr)}")
        rows.extend(versions)
    return rows


def user_rows(events):
    """'one row per distinct non-empty userId among all staged events (any
    page). first_name, last_name, gender, level come from that user's latest
    event: greatest ts, then greatest session_id, then greatest
    item_in_session.'"""
    by_user = {}
    for event in events:
        if event["user_id"] is not None:
            by_user.setdefault(event["user_id"], []).append(event)
    rows = []
    for user_id, user_events in by_user.items():
        latest = pick(
            user_events,
            key=lambda e: (low(e["ts"]), low(e["session_id"]), low(e["item_in_session"])),
            attributes=lambda e: (e["first_name"], e["last_name"], e["gender"], e["level"]),
            reverse=True,
        )
        rows.append((user_id, latest["first_name"], latest["last_name"], latest["gender"], latest["level"]))
    return rows


def song_rows(songs):
    """'one row per distinct song_id in staging_songs: title, artist_id, year
    (NULL where the source says 0), duration. Where one song_id appears in
    several records, the attributes of the first record in (title, artist_id,
    duration) order are kept.'

    Interpretation: a record without a song_id makes no row (the key is
    non-null)."""
    by_song = {}
    for song in songs:
        if song["song_id"] is not None:
            by_song.setdefault(song["song_id"], []).append(song)
    rows = []
    for song_id, records in by_song.items():
        first = pick(
            records,
            key=lambda s: (low(s["title"]), low(s["artist_id"]), low(s["duration"])),
            attributes=lambda s: (s["title"], s["artist_id"], s["year"] or None, s["duration"]),
        )
        rows.append((song_id, first["title"], first["artist_id"], first["year"] or None, first["duration"]))
    return rows


def artist_rows(songs):
    """'one row per distinct artist_id in staging_songs:
    - name: the shortest of the names seen for that id; ties -> alphabetically first;
    - location: the non-empty artist_location of the record with the smallest
      song_id that has one, else NULL;
    - latitude, longitude: from the record with the smallest song_id that has
      both non-null, else both NULL.'
    '"shortest" counts characters; NULL sorts lowest; "empty" means NULL or ""'.

    Interpretation: an empty name (NULL or "", SPEC's "empty") is no name
    'seen'; the name is NULL only if there is no other."""
    by_artist = {}
    for song in songs:
        if song["artist_id"] is not None:
            by_artist.setdefault(song["artist_id"], []).append(song)
    rows = []
    for artist_id, records in by_artist.items():
        names = [s["artist_name"] for s in records if s["artist_name"]]
        name = min(names, key=lambda n: (len(n), n)) if names else None
        located = [s for s in records if s["artist_location"]]
        location = pick(
            located, key=lambda s: low(s["song_id"]), attributes=lambda s: s["artist_location"]
        )["artist_location"] if located else None
        placed = [s for s in records if s["artist_latitude"] is not None and s["artist_longitude"] is not None]
        latitude, longitude = (None, None)
        if placed:
            place = pick(
                placed, key=lambda s: low(s["song_id"]),
                attributes=lambda s: (s["artist_latitude"], s["artist_longitude"]),
            )
            latitude, longitude = place["artist_latitude"], place["artist_longitude"]
        rows.append((artist_id, name, location, latitude, longitude))
    return rows


def time_rows(songplays):
    """'one row per distinct start_time in songplay_table: hour (0-23), day
    (1-31), week (ISO week, as EXTRACT(WEEK ...)), month, year, weekday (0 =
    Sunday ... 6 = Saturday, as EXTRACT(DOW ...))'."""
    return [
        (moment, moment.hour, moment.day, moment.date().isocalendar()[1], moment.month, moment.year,
         moment.isoweekday() % 7)
        for moment in {row[0] for row in songplays}
    ]


def read_source(source):
    """The staged rows of ``source``: (staging_events rows, staging_songs rows)."""
    return staging_events(source), staging_songs(source)


def expected_tables(events, songs):
    """Every star table's rows for the staged rows, each a sorted list of tuples."""
    songplays = songplay_rows(events, songs)
    tables = {
        "songplay_table": songplays,
        "user_table": user_rows(events),
        "song_table": song_rows(songs),
        "artist_table": artist_rows(songs),
        "time_table": time_rows(songplays),
    }
    return {name: sorted(rows, key=sort_key) for name, rows in tables.items()}


def sort_key(row):
    """Sorts rows holding NULLs (None) alongside values."""
    return tuple(low(value) for value in row)
