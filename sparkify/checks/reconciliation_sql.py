"""The SQL of the reconciliation checks (docs/data-contract.md#accounting-checks), and of the summary's figures.

reconciliation.py runs the checks; the run's mode (sparkify/run/mode.py) reads
the figures. Each check returns one row, (expected, actual), and passes when
the two are equal. Written in Redshift's dialect, as sql_queries.py: the
engine renders them. Text is counted and compared byte for byte, as the loads
compare it (sql_queries.nextsong(), same_text(), text_key()): Redshift
ignores trailing blanks when it compares VARCHARs, so 'X' and 'X ' would
count as one key there, and a play of 'X ' would find the song 'X'.
"""

from sql_queries import nextsong, same_text, star_tables, text_key

# ---------------------------------------------------------------------------
# The whole checks: the warehouse against its staging, after a full load and
# on `etl.py --check`
# ---------------------------------------------------------------------------

# Each counted check: (the rows a star table must hold, counted from what
# its rows come from; that table). As a check, the two counts side by side;
# a full load, which has just written the table, compares the first with the
# rows its INSERT wrote instead of counting the table again.
PLAYS_CHECK = "songplays = distinct NextSong events"

COUNTED = {
    PLAYS_CHECK: (f"""
SELECT COUNT(*)
FROM (
    SELECT DISTINCT ts, session_id, item_in_session
    FROM staging_events
    WHERE {nextsong()}
) AS plays
""", "songplay_table"),
    "users = distinct staged user ids": ("""
SELECT COUNT(*)
FROM (
    SELECT DISTINCT user_id
    FROM staging_events
    WHERE user_id IS NOT NULL
) AS users
""", "user_table"),
    "songs = distinct staged song ids": ("""
SELECT COUNT(*)
FROM (
    SELECT DISTINCT song_id, OCTET_LENGTH(song_id) AS song_id_bytes
    FROM staging_songs
    WHERE song_id IS NOT NULL
) AS songs
""", "song_table"),
    "artists = distinct staged artist ids": ("""
SELECT COUNT(*)
FROM (
    SELECT DISTINCT artist_id, OCTET_LENGTH(artist_id) AS artist_id_bytes
    FROM staging_songs
    WHERE artist_id IS NOT NULL
) AS artists
""", "artist_table"),
    "time rows = distinct play start times": ("""
SELECT COUNT(DISTINCT start_time)
FROM songplay_table
""", "time_table"),
}


def _counted_check(expected, table):
    indented = "\n".join(f"        {line}" if line else line for line in expected.strip().splitlines())
    return f"""
SELECT
    (
{indented}
    ),
    (SELECT COUNT(*) FROM {table})
"""


# Redshift's planner takes a declared PRIMARY KEY as true ("Defining table
# constraints") and may answer COUNT(DISTINCT key) with COUNT(key) without
# looking: the very duplicate these checks exist to catch would pass. So each
# counts the distinct values of an expression of the key (key + 0, key +
# INTERVAL '0 seconds', and for a text key its text and byte length, so that
# 'X' and 'X ' are two), which no constraint describes.
def _check_unique_not_null(table, key, expression):
    return f"""
SELECT COUNT(*), COUNT(DISTINCT {expression})
FROM {table}
"""


UNIQUE_KEYS = [  # (table, key, an expression equal to the key that no constraint describes)
    ("songplay_table", "songplay_id", "songplay_id + 0"),
    ("user_table", "user_id", "user_id + 0"),
    ("song_table", "song_id", text_key("song_id")),
    ("artist_table", "artist_id", text_key("artist_id")),
    ("time_table", "start_time", "start_time + INTERVAL '0 seconds'"),
]

check_unique_not_null = {
    f"{table} key unique and not null": _check_unique_not_null(table, key, expression)
    for table, key, expression in UNIQUE_KEYS
}


TEXT_KEYS = {"song_id", "artist_id"}  # joined byte for byte: a play of 'X ' does not find the song 'X'


def _check_relationship(column, dimension):
    found = (same_text(f"dimension.{column}", f"plays.{column}") if column in TEXT_KEYS
             else f"dimension.{column} = plays.{column}")
    return f"""
SELECT 0, COUNT(*)
FROM songplay_table AS plays
LEFT JOIN {dimension} AS dimension
    ON {found}
WHERE plays.{column} IS NOT NULL
    AND dimension.{column} IS NULL
"""


RELATIONSHIPS = [  # songplay_table's column -> the dimension it points at
    ("start_time", "time_table"),
    ("user_id", "user_table"),
    ("song_id", "song_table"),
    ("artist_id", "artist_table"),
]

check_relationships = {
    f"songplay_table.{column} -> {dimension} present": _check_relationship(column, dimension)
    for column, dimension in RELATIONSHIPS
}

# The constraint of the DDL that holds each key and relationship check: an
# engine that enforces constraints (PostgreSQL) names it instead of counting
# (sparkify.engines.postgres.PostgresEngine.enforced_constraints).
check_constraints = {
    **{
        name: (table, f"PRIMARY KEY ({key})")
        for name, (table, key, _) in zip(check_unique_not_null, UNIQUE_KEYS)
    },
    **{
        name: ("songplay_table", f"FOREIGN KEY ({column}) REFERENCES {dimension}({column})")
        for name, (column, dimension) in zip(check_relationships, RELATIONSHIPS)
    },
}

# check name -> what counts it, in the order the summary shows them
check_queries = {
    **{name: _counted_check(expected, table) for name, (expected, table) in COUNTED.items()},
    **check_unique_not_null,
    **check_relationships,
}


# ---------------------------------------------------------------------------
# A daily run's checks (docs/data-contract.md#checks-of-a-daily-runs-change)
#
# The run that committed the warehouse checked it. A daily run checks that its
# change keeps the five counted checks true without recounting the month's
# distinct keys: "songplays = distinct NextSong events" becomes "songplays
# added = new distinct NextSong events", and so on. The new keys are counted
# against staging before the new records are appended to it, and each star
# table's rows before and after the change (a COUNT(*) of each); a check
# passes when the table grew by its new keys.
#
# This is induction: it trusts the warehouse that the previous run left. A
# warehouse changed by hand between runs is caught by `etl.py --check`, which
# runs the whole checks above, as every --full run does.
# ---------------------------------------------------------------------------

# Each check's new keys: the keys of the new records, EXCEPT those staged
# before (EXCEPT compares NULL equal to NULL, as PARTITION BY does, and needs
# no correlated subquery, which Redshift restricts). The ts range bounds the
# staged side to the new records' span, so that only those blocks of
# staging_events are read (its sort key: zone maps on Redshift, an index on
# PostgreSQL), not the month. An earlier copy of a new event, or an earlier
# play at a new play's start time, has the same ts, so it lies in that span.
_NEW_DAYS = "ts BETWEEN (SELECT MIN(ts) FROM staging_events_new) AND (SELECT MAX(ts) FROM staging_events_new)"

new_plays_count = f"""
SELECT COUNT(*)
FROM (
    SELECT session_id, item_in_session, ts
    FROM staging_events_new
    WHERE {nextsong()}
    EXCEPT
    SELECT session_id, item_in_session, ts
    FROM staging_events
    WHERE {nextsong()}
        AND {_NEW_DAYS}
) AS new_plays
"""

# One start time per distinct ts: TIMESTAMP 'epoch' + ts milliseconds.
new_play_times_count = f"""
SELECT COUNT(*)
FROM (
    SELECT ts
    FROM staging_events_new
    WHERE {nextsong()}
    EXCEPT
    SELECT ts
    FROM staging_events
    WHERE {nextsong()}
        AND {_NEW_DAYS}
) AS new_play_times
"""

# A user's events are spread over the month: this one reads staging's
# user_id whole. NULL is no user, so a join does what EXCEPT does, and the
# staged ids are gathered by a hash of a few thousand, on both cores.
new_users_count = """
SELECT COUNT(*)
FROM (
    SELECT DISTINCT user_id
    FROM staging_events_new
    WHERE user_id IS NOT NULL
) AS new_users
LEFT JOIN (
    SELECT DISTINCT user_id
    FROM staging_events
) AS staged
    ON staged.user_id = new_users.user_id
WHERE staged.user_id IS NULL
"""


def _new_song_keys_count(key):
    """The new records' ``key``s that staging lacks, byte for byte (with the byte length: EXCEPT on
    Redshift would take 'X ' for 'X')."""
    return f"""
SELECT COUNT(*)
FROM (
    SELECT {key}, OCTET_LENGTH({key}) AS {key}_bytes
    FROM staging_songs_new
    WHERE {key} IS NOT NULL
    EXCEPT
    SELECT {key}, OCTET_LENGTH({key}) AS {key}_bytes
    FROM staging_songs
) AS new_keys
"""


# The star's row counts, in star_tables order, before and after the change.
star_counts = "SELECT\n" + ",\n".join(
    f"    (SELECT COUNT(*) FROM {table}) AS {table}" for table in star_tables
) + "\n"

# check name -> (the star table that must grow by the new keys, what counts them)
NEW_PLAYS_CHECK = "songplays added = new distinct NextSong events"

change_checks = {
    NEW_PLAYS_CHECK: ("songplay_table", new_plays_count),
    "users added = new staged user ids": ("user_table", new_users_count),
    "songs added = new staged song ids": ("song_table", _new_song_keys_count("song_id")),
    "artists added = new staged artist ids": ("artist_table", _new_song_keys_count("artist_id")),
    "time rows added = new play start times": ("time_table", new_play_times_count),
}

key_checks = {**check_unique_not_null, **check_relationships}

# ---------------------------------------------------------------------------
# Figures for the summary
# ---------------------------------------------------------------------------

# A full load's: the staged NextSong events, less the distinct ones (the first
# check's expected figure), are the duplicates counted once; the plays that
# match the catalogue.
# The NextSong events, and how many of them have a NULL in their identity, which songplay_table's
# unique key does not compare (to it, NULLs are distinct: run/mode.py's FullLoad.transform).
count_nextsong_events = f"""
SELECT
    COUNT(*),
    COUNT(CASE WHEN ts IS NULL OR session_id IS NULL OR item_in_session IS NULL THEN 1 END)
FROM staging_events
WHERE {nextsong()}
"""

count_matched_plays = """
SELECT COUNT(*) FROM songplay_table WHERE song_id IS NOT NULL
"""

# A daily run's, read before its work tables (sparkify/run/daily_load_sql.py)
# are dropped: the plays it wrote (added or replaced) and how many of them
# match the catalogue; the NextSong events it staged.
written_plays_count = """
SELECT COUNT(*), COUNT(song_id)
FROM songplay_table_changes
"""

new_nextsong_events_count = f"""
SELECT COUNT(*) FROM staging_events_new WHERE {nextsong()}
"""
