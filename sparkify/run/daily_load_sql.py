"""A daily run's SQL: what DailyLoad (sparkify/run/mode.py) runs after staging the new files.

The ledger (sparkify/run/ledger.py) says which source files are staged. A
daily run stages only the new files, into temporary tables (*_new) that it
then appends to staging: the staging tables keep every record ever loaded, so
each dimension can be recomputed from its whole history. Only the keys the new
records touch are recomputed, by the full load's own SELECTs (the ``*_ROWS``
fragments of sql_queries.py) run on the staging rows of those keys, into
temporary *_changes tables:

- the dimensions are upserted, a row updated in place, so that the fact's
  foreign keys stay valid throughout: user_table with MERGE (PostgreSQL 15+,
  Redshift), song_table and artist_table, keyed on text, with UPDATE then
  INSERT (_upsert_update(), _upsert_insert() say why);
- the fact is replaced by event identity, DELETE then INSERT: MERGE matches
  only on equalities, and an identity part may be NULL;
- time_table gains the start times it lacks.

Written in Redshift's dialect, as sql_queries.py: the engine renders them, and
text is compared byte for byte, as there (sql_queries.nextsong(),
same_text(): Redshift ignores trailing blanks when it compares VARCHARs). The
checks of the change, and the figures read before the work tables are
dropped, are in sparkify/checks/reconciliation_sql.py.
"""

from sql_queries import (
    ARTIST_TABLE_ROWS,
    INSERT_COLUMNS,
    SONG_TABLE_ROWS,
    SONGPLAY_TABLE_ROWS,
    START_TIME,
    TIME_TABLE_ROWS,
    USER_TABLE_ROWS,
    column_list,
    nextsong,
    same_text,
)

staging_events_new_create = "CREATE TEMP TABLE staging_events_new (LIKE staging_events)"
staging_songs_new_create = "CREATE TEMP TABLE staging_songs_new (LIKE staging_songs)"

# The planner's statistics for the new records, of the columns the daily
# statements filter and join them on: ANALYZE of all eighteen, long text
# columns included, took three to five times as long.
work_tables_analyze = {
    "staging_events_new": "ANALYZE staging_events_new (page, ts, session_id, item_in_session, user_id)",
    "staging_songs_new": "ANALYZE staging_songs_new",
}

staging_events_append = "INSERT INTO staging_events SELECT * FROM staging_events_new"
staging_songs_append = "INSERT INTO staging_songs SELECT * FROM staging_songs_new"


def _same(column, left, right):
    """Equal, NULL equal to NULL: how PARTITION BY groups an event's copies."""
    return (
        f"({left}.{column} = {right}.{column}"
        f" OR ({left}.{column} IS NULL AND {right}.{column} IS NULL))"
    )


# The plays that the new records touch: the new events, and the events whose
# song and artist a new song record names (the catalogue match may change for
# them). A table of their own, analysed, so that the planner knows how few
# they are: it hashed the whole of staging_events to join it with a subquery
# of unknown size.
affected_plays_create = f"""
CREATE TEMP TABLE affected_plays AS
SELECT session_id, item_in_session, ts
FROM staging_events_new
WHERE {nextsong()}
UNION
SELECT plays.session_id, plays.item_in_session, plays.ts
FROM staging_events AS plays
JOIN staging_songs_new AS songs
    ON {same_text("songs.title", "plays.song")}
    AND {same_text("songs.artist_name", "plays.artist")}
WHERE {nextsong("plays.page")}
"""

affected_plays_analyze = "ANALYZE affected_plays"

# Every staged copy of each affected play. The ts range repeats what the
# join implies, for the sort key: without late song files, only the new
# days' blocks are read.
staging_events_affected_create = "CREATE TEMP TABLE staging_events_affected (LIKE staging_events)"

staging_events_affected_insert = f"""
INSERT INTO staging_events_affected
SELECT events.*
FROM staging_events AS events
JOIN affected_plays AS affected
    ON affected.ts = events.ts
    AND {_same("session_id", "affected", "events")}
    AND {_same("item_in_session", "affected", "events")}
WHERE {nextsong("events.page")}
    AND events.ts BETWEEN (SELECT MIN(ts) FROM affected_plays) AND (SELECT MAX(ts) FROM affected_plays)
"""

def _changes_create(table):
    """An empty temporary table with the columns the full load inserts into ``table``."""
    return f"""
CREATE TEMP TABLE {table}_changes AS
SELECT {column_list(table)}
FROM {table}
WHERE 1 = 0
"""


def _changes_insert(table, rows):
    """The full load's INSERT for ``table``, into ``table``_changes: ``rows`` is its SELECT, scoped."""
    return f"\nINSERT INTO {table}_changes ({column_list(table)})" + rows


def _updates(table, key):
    """The SET list of an upsert of ``table``: every column but ``key``, from ``table``_changes."""
    return ",\n    ".join(f"{column} = {table}_changes.{column}" for column in INSERT_COLUMNS[table] if column != key)


def _merge(table, key):
    """Upsert ``table`` from ``table``_changes by ``key``, a column that is not text (equal means the same)."""
    changes = f"{table}_changes"
    values = ",\n    ".join(f"{changes}.{column}" for column in INSERT_COLUMNS[table])
    return f"""
MERGE INTO {table}
USING {changes}
ON {table}.{key} = {changes}.{key}
WHEN MATCHED THEN UPDATE SET
    {_updates(table, key)}
WHEN NOT MATCHED THEN INSERT ({column_list(table)})
VALUES (
    {values}
)
"""


# A table keyed on text is upserted in two statements, not by MERGE. Its key
# must match byte for byte (same_text(): the text, and its OCTET_LENGTH), and
# Redshift's MERGE allows in its ON only "equal predicates between the source
# table column and target table column"
# (https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html), not an
# equality of byte lengths. UPDATE ... FROM and INSERT ... SELECT take any
# WHERE: AWS's own upsert without MERGE is an UPDATE joined with the staged
# rows, then an INSERT of the rows the target lacks
# (https://docs.aws.amazon.com/redshift/latest/dg/merge-specify-a-column-list.html),
# and an UPDATE joins its FROM on an equality of the target's column ("Target
# table must be part of an equijoin predicate":
# https://docs.aws.amazon.com/redshift/latest/dg/r_UPDATE.html), which the
# key's equality is. The UPDATE runs first and never changes the key, so the
# rows it updated are there for the INSERT's NOT EXISTS: each row of the
# changes is updated or inserted, once, as a MERGE would; their row counts add
# up to the MERGE's.


def _upsert_update(table, key):
    """Update the rows of ``table`` whose text ``key`` a row of ``table``_changes has, byte for byte."""
    changes = f"{table}_changes"
    return f"""
UPDATE {table}
SET {_updates(table, key)}
FROM {changes}
WHERE {same_text(f"{table}.{key}", f"{changes}.{key}")}
"""


def _upsert_insert(table, key):
    """Insert the rows of ``table``_changes whose text ``key`` ``table`` lacks, byte for byte."""
    changes = f"{table}_changes"
    match = same_text(f"{table}.{key}", f"{changes}.{key}").replace("\n", "\n    ")
    return f"""
INSERT INTO {table} ({column_list(table)})
SELECT {column_list(table)}
FROM {changes}
WHERE NOT EXISTS (
    SELECT 1
    FROM {table}
    WHERE {match}
)
"""


def _staged_songs_of_new(key):
    """The staged song records whose ``key`` a new song record has, byte for byte (not IN, which
    Redshift would answer ignoring trailing blanks): a subquery named as staging_songs."""
    return f"""(
        SELECT songs.*
        FROM staging_songs AS songs
        JOIN (
            SELECT DISTINCT {key}, OCTET_LENGTH({key}) AS {key}_bytes
            FROM staging_songs_new
        ) AS new_keys
            ON new_keys.{key} = songs.{key}
            AND new_keys.{key}_bytes = OCTET_LENGTH(songs.{key})
    ) AS staging_songs"""


# The full load's SELECTs, each reading only the staged rows of the keys that
# the new records touch (a subquery named as the staging table it stands for).
artist_table_changes_insert = _changes_insert("artist_table", ARTIST_TABLE_ROWS.format(
    songs=_staged_songs_of_new("artist_id")))

song_table_changes_insert = _changes_insert("song_table", SONG_TABLE_ROWS.format(
    songs=_staged_songs_of_new("song_id")))

# A user's row comes from their latest event, and ts is the first sort key: an
# event older than the user's latest new one cannot be it. Only the events from
# that one on are ranked again, not the user's whole history. The bound on
# the new events' first ts repeats that for the sort key, so that only the
# staged blocks from the new days on are read.
user_table_changes_insert = _changes_insert("user_table", USER_TABLE_ROWS.format(events="""(
        SELECT events.*
        FROM staging_events AS events
        JOIN (
            SELECT user_id, MAX(ts) AS latest
            FROM staging_events_new
            WHERE user_id IS NOT NULL
            GROUP BY user_id
        ) AS new_users
            ON new_users.user_id = events.user_id
            AND events.ts >= new_users.latest
        WHERE events.ts >= (SELECT MIN(ts) FROM staging_events_new)
    ) AS staging_events"""))

songplay_table_changes_insert = _changes_insert(
    "songplay_table", SONGPLAY_TABLE_ROWS.format(events="staging_events_affected AS staging_events"),
)

artist_table_upsert_update = _upsert_update("artist_table", "artist_id")
artist_table_upsert_insert = _upsert_insert("artist_table", "artist_id")
song_table_upsert_update = _upsert_update("song_table", "song_id")
song_table_upsert_insert = _upsert_insert("song_table", "song_id")
user_table_merge = _merge("user_table", "user_id")

# The start times the new events add. The lower bound repeats what the
# equality implies, so that only the time rows from the new events' first
# start time on are read, by the primary key's index, not the whole table.
time_table_append = f"""
INSERT INTO time_table ({column_list("time_table")})""" + TIME_TABLE_ROWS.format(
    events="staging_events_new",
    new_start_times=f"""WHERE NOT EXISTS (
    SELECT 1
    FROM time_table
    WHERE time_table.start_time = plays.start_time
        AND time_table.start_time >= (
            SELECT MIN({START_TIME}) FROM staging_events_new WHERE {nextsong()}
        )
)
""",
)

songplay_table_replace_delete = f"""
DELETE FROM songplay_table
USING songplay_table_changes AS changes
WHERE changes.start_time = songplay_table.start_time
    AND {_same("session_id", "changes", "songplay_table")}
    AND {_same("item_in_session", "changes", "songplay_table")}
"""

songplay_table_replace_insert = f"""
INSERT INTO songplay_table ({column_list("songplay_table")})
SELECT {column_list("songplay_table")}
FROM songplay_table_changes
"""

# What a daily run does after staging the new files into *_new, in
# order: (step, statement). The dimensions first, so that every foreign key
# of the fact finds its row.
incremental_star_queries = [
    ("staging_events", staging_events_append),
    ("staging_songs", staging_songs_append),
    ("artist_table", _changes_create("artist_table")),
    ("artist_table", artist_table_changes_insert),
    ("artist_table", artist_table_upsert_update),
    ("artist_table", artist_table_upsert_insert),
    ("song_table", _changes_create("song_table")),
    ("song_table", song_table_changes_insert),
    ("song_table", song_table_upsert_update),
    ("song_table", song_table_upsert_insert),
    ("user_table", _changes_create("user_table")),
    ("user_table", user_table_changes_insert),
    ("user_table", user_table_merge),
    ("time_table", time_table_append),
    ("songplay_table", affected_plays_create),
    ("songplay_table", affected_plays_analyze),
    ("songplay_table", staging_events_affected_create),
    ("songplay_table", staging_events_affected_insert),
    ("songplay_table", _changes_create("songplay_table")),
    ("songplay_table", songplay_table_changes_insert),
    ("songplay_table", "ANALYZE songplay_table_changes"),
    ("songplay_table", songplay_table_replace_delete),
    ("songplay_table", songplay_table_replace_insert),
]

incremental_work_tables = [
    "staging_events_new",
    "staging_songs_new",
    "affected_plays",
    "staging_events_affected",
    "artist_table_changes",
    "song_table_changes",
    "user_table_changes",
    "songplay_table_changes",
]

# Each step of a daily run ends with the statement whose row count it shows, and what that count is (the
# statements of its table before it are part of the step): one line each in the progress, the summary, --json.
# An upsert is two statements, UPDATE then INSERT: the UPDATE's rows add to the step's figure (ADDS_TO_STEP).
PLAYS_REPLACED, PLAYS_ADDED = "plays replaced", "plays added"
COUNTED = {
    staging_events_append: "rows appended",
    staging_songs_append: "rows appended",
    artist_table_upsert_insert: "rows upserted",
    song_table_upsert_insert: "rows upserted",
    user_table_merge: "rows upserted",
    time_table_append: "rows added",
    songplay_table_replace_delete: PLAYS_REPLACED,
    songplay_table_replace_insert: PLAYS_ADDED,
}
ADDS_TO_STEP = {artist_table_upsert_update, song_table_upsert_update}
