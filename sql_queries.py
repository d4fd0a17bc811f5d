"""Every SQL statement of the pipeline, one statement per string.

The statements are written in Amazon Redshift's dialect: that is the source of
truth. ``sparkify.engines.postgres.to_postgres()`` derives the PostgreSQL rendering from the
same strings, mechanically, for the embedded database and CI (the README lists
exactly what it changes).

Table and column names are those of the data contract (docs/data-contract.md). The order of the lists at the end
of this file is the order in which the scripts run the statements.
"""

from sparkify.value_ranges import TS_MAX_MS, TS_MIN_MS

# ---------------------------------------------------------------------------
# DROP
# ---------------------------------------------------------------------------

staging_events_table_drop = "DROP TABLE IF EXISTS staging_events"
staging_songs_table_drop = "DROP TABLE IF EXISTS staging_songs"
rejected_records_table_drop = "DROP TABLE IF EXISTS rejected_records"
loaded_files_table_drop = "DROP TABLE IF EXISTS loaded_files"
songplay_table_drop = "DROP TABLE IF EXISTS songplay_table"
user_table_drop = "DROP TABLE IF EXISTS user_table"
song_table_drop = "DROP TABLE IF EXISTS song_table"
artist_table_drop = "DROP TABLE IF EXISTS artist_table"
time_table_drop = "DROP TABLE IF EXISTS time_table"

# ---------------------------------------------------------------------------
# CREATE: staging
#
# Columns in the order of log_json_path.json (events) and named as the JSON
# keys (songs, for COPY's JSON 'auto'). VARCHAR sizes are bytes on Redshift and
# are wide enough for every value of the real data, multibyte UTF-8 included.
#
# staging_events is sorted by ts, so that a daily run finds the new days' rows
# among the month's by range: Redshift skips the blocks whose ts range
# cannot match, PostgreSQL reads an index (sparkify.engines.postgres.sort_key_index).
# ---------------------------------------------------------------------------

staging_events_table_create = """
CREATE TABLE staging_events (
    artist           VARCHAR(1024),
    auth             VARCHAR(32),
    first_name       VARCHAR(256),
    gender           VARCHAR(16),
    item_in_session  INTEGER,
    last_name        VARCHAR(256),
    length           DOUBLE PRECISION,
    level            VARCHAR(16),
    location         VARCHAR(1024),
    method           VARCHAR(16),
    page             VARCHAR(64),
    registration     DOUBLE PRECISION,
    session_id       INTEGER,
    song             VARCHAR(1024),
    status           SMALLINT,
    ts               BIGINT NOT NULL,
    user_agent       VARCHAR(1024),
    user_id          INTEGER
)
DISTSTYLE EVEN
SORTKEY (ts)
"""

# staging_events' columns, in their order (the JSONPaths file's)
STAGING_EVENTS_COLUMNS = [
    line.split()[0] for line in staging_events_table_create.split("(\n", 1)[1].split("\n)\n", 1)[0].splitlines()
    if line.strip()
]

staging_songs_table_create = """
CREATE TABLE staging_songs (
    num_songs         INTEGER,
    artist_id         VARCHAR(32),
    artist_latitude   DOUBLE PRECISION,
    artist_longitude  DOUBLE PRECISION,
    artist_location   VARCHAR(1024),
    artist_name       VARCHAR(1024),
    song_id           VARCHAR(32),
    title             VARCHAR(1024),
    duration          DOUBLE PRECISION,
    year              INTEGER
)
DISTSTYLE EVEN
"""

# Source records the local loader could not stage (docs/data-contract.md#accounting-checks), in the
# shape of Redshift's stl_load_errors: where, which column, why, and the text.
rejected_records_table_create = """
CREATE TABLE rejected_records (
    table_name   VARCHAR(64) NOT NULL,
    source_file  VARCHAR(1024) NOT NULL,
    line_number  BIGINT,
    column_name  VARCHAR(64),
    reason       VARCHAR(1024) NOT NULL,
    raw_value    VARCHAR(1024),
    raw_record   VARCHAR(65535)
)
DISTSTYLE EVEN
"""

# The ledger of incremental loads (sparkify/run/ledger.py): one row per source file
# staged. file_key is the file's path below the source (log_data/2018/11/...);
# version is its S3 ETag, or its modification time for a folder (2018-11-30T12:00:01.123456789Z).
loaded_files_table_create = """
CREATE TABLE loaded_files (
    file_key       VARCHAR(1024) NOT NULL,
    source         VARCHAR(1024) NOT NULL,
    table_name     VARCHAR(64) NOT NULL,
    size           BIGINT NOT NULL,
    version        VARCHAR(256) NOT NULL,
    rows_staged    BIGINT,
    rows_rejected  BIGINT NOT NULL,
    loaded_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (file_key)
)
DISTSTYLE ALL
SORTKEY (file_key)
"""

# ---------------------------------------------------------------------------
# CREATE: the star schema
#
# Small dimensions are copied to every node (DISTSTYLE ALL); the fact and
# time_table share DISTKEY/SORTKEY start_time, so the time join is co-located
# and time filters skip blocks. Keys are declared: Redshift takes them as
# planner hints, PostgreSQL enforces them.
# ---------------------------------------------------------------------------

user_table_create = """
CREATE TABLE user_table (
    user_id     INTEGER NOT NULL,
    first_name  VARCHAR(256),
    last_name   VARCHAR(256),
    gender      VARCHAR(16),
    level       VARCHAR(16),
    PRIMARY KEY (user_id)
)
DISTSTYLE ALL
SORTKEY (user_id)
"""

artist_table_create = """
CREATE TABLE artist_table (
    artist_id  VARCHAR(32) NOT NULL,
    name       VARCHAR(1024),
    location   VARCHAR(1024),
    latitude   DOUBLE PRECISION,
    longitude  DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
)
DISTSTYLE ALL
SORTKEY (artist_id)
"""

song_table_create = """
CREATE TABLE song_table (
    song_id    VARCHAR(32) NOT NULL,
    title      VARCHAR(1024),
    artist_id  VARCHAR(32) REFERENCES artist_table (artist_id),
    year       INTEGER,
    duration   DOUBLE PRECISION,
    PRIMARY KEY (song_id)
)
DISTSTYLE ALL
SORTKEY (song_id)
"""

time_table_create = """
CREATE TABLE time_table (
    start_time  TIMESTAMP NOT NULL,
    hour        SMALLINT NOT NULL,
    day         SMALLINT NOT NULL,
    week        SMALLINT NOT NULL,
    month       SMALLINT NOT NULL,
    year        SMALLINT NOT NULL,
    weekday     SMALLINT NOT NULL,
    PRIMARY KEY (start_time)
)
DISTSTYLE KEY
DISTKEY (start_time)
SORTKEY (start_time)
"""

# item_in_session is not in the original diagram: with session_id and
# start_time it is the event's identity (docs/data-contract.md#event-identity), which the UNIQUE
# key uses to prove that no play is doubled.
songplay_table_create = """
CREATE TABLE songplay_table (
    songplay_id      BIGINT IDENTITY(0, 1) NOT NULL,
    start_time       TIMESTAMP NOT NULL REFERENCES time_table (start_time),
    user_id          INTEGER REFERENCES user_table (user_id),
    level            VARCHAR(16),
    song_id          VARCHAR(32) REFERENCES song_table (song_id),
    artist_id        VARCHAR(32) REFERENCES artist_table (artist_id),
    session_id       INTEGER,
    item_in_session  INTEGER,
    location         VARCHAR(1024),
    user_agent       VARCHAR(1024),
    PRIMARY KEY (songplay_id),
    UNIQUE (session_id, item_in_session, start_time)
)
DISTSTYLE KEY
DISTKEY (start_time)
SORTKEY (start_time)
"""

# ---------------------------------------------------------------------------
# Staging
#
# On Redshift, COPY reads the files from S3. On PostgreSQL the local loader
# (sparkify/engines/local_loader/) reads them itself and streams the rows in with
# COPY ... FROM STDIN. {placeholders} are filled by the Redshift engine
# (sparkify/engines/redshift.py, copy_values()), which quotes every value as a
# literal. {region} is "REGION '<[S3] REGION>'" and a line break, or nothing
# when [S3] REGION is empty: then COPY reads every file (data, JSONPaths file,
# manifest) in the cluster's own region. With REGION, every one of them must be
# in that region, the manifest included
# (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html).
# ---------------------------------------------------------------------------

staging_events_clear = "DELETE FROM staging_events"
staging_songs_clear = "DELETE FROM staging_songs"
rejected_records_clear = "DELETE FROM rejected_records"

staging_events_copy = """
COPY staging_events
FROM {log_data}
IAM_ROLE {iam_role}
{region}FORMAT AS JSON {log_jsonpath}
MAXERROR {max_errors}
COMPUPDATE OFF
STATUPDATE OFF
"""

staging_songs_copy = """
COPY staging_songs
FROM {song_data}
IAM_ROLE {iam_role}
{region}FORMAT AS JSON 'auto'
MAXERROR {max_errors}
COMPUPDATE OFF
STATUPDATE OFF
"""

# An incremental run on Redshift (sparkify/engines/redshift.py) stages exactly the new
# files: a manifest lists them, each mandatory, so COPY reads those objects and
# no other, and fails if one has gone. {table} is staging_events_new or
# staging_songs_new (staging_* itself when the run reloads everything);
# {format} is the JSONPaths file, or 'auto' for the songs.
staging_copy_manifest = """
COPY {table}
FROM {manifest}
IAM_ROLE {iam_role}
{region}FORMAT AS JSON {format}
MANIFEST
MAXERROR {max_errors}
COMPUPDATE OFF
STATUPDATE OFF
"""

# ts outside the data contract's range (sparkify/value_ranges.py) on Redshift.
# The local loader rejects such a record as it reads it; COPY loads any BIGINT,
# and the transform would then fail on it (EXTRACT into time_table's SMALLINTs,
# or the TIMESTAMP overflowing). So, right after the events' COPY and inside
# the run's transaction, the Redshift engine counts the staged events outside
# the range, reads them (as many as it keeps of COPY's own load errors), keeps
# them in rejected_records and deletes them from staging, counting them
# against --max-errors. {table} is staging_events, or staging_events_new in a
# daily run; {limit} is how many rows are read.
TS_OUT_OF_RANGE = f"ts < {TS_MIN_MS} OR ts > {TS_MAX_MS}"

staged_ts_out_of_range_count = f"""
SELECT COUNT(*) FROM {{table}} WHERE {TS_OUT_OF_RANGE}
"""

staged_ts_out_of_range_select = f"""
SELECT {", ".join(STAGING_EVENTS_COLUMNS)}
FROM {{table}}
WHERE {TS_OUT_OF_RANGE}
ORDER BY ts, session_id, item_in_session
LIMIT {{limit}}
"""

staged_ts_out_of_range_delete = f"""
DELETE FROM {{table}} WHERE {TS_OUT_OF_RANGE}
"""

# ---------------------------------------------------------------------------
# Transform: staging -> star schema, in one transaction.
#
# DELETE, not TRUNCATE: TRUNCATE commits implicitly on Redshift, and a failed
# run must leave the previous warehouse as it was. The fact goes first, as its
# foreign keys point at the dimensions.
# ---------------------------------------------------------------------------

songplay_table_clear = "DELETE FROM songplay_table"
time_table_clear = "DELETE FROM time_table"
user_table_clear = "DELETE FROM user_table"
song_table_clear = "DELETE FROM song_table"
artist_table_clear = "DELETE FROM artist_table"

# ts is epoch milliseconds; this keeps them and gives a plain UTC TIMESTAMP on
# both engines whatever the session's time zone (unlike to_timestamp()).
START_TIME = "TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond'"

# Name: the shortest non-empty spelling, ties in code-point order. Location: the non-empty one
# of the smallest song_id. Coordinates: both from the smallest song_id that has
# both. Each is ranked on its own and joined back to the list of artists.
ARTIST_TABLE_ROWS = """
SELECT
    artists.artist_id,
    names.artist_name,
    locations.artist_location,
    coordinates.artist_latitude,
    coordinates.artist_longitude
FROM (
    SELECT DISTINCT artist_id
    FROM {songs}
    WHERE artist_id IS NOT NULL
) AS artists
LEFT JOIN (
    SELECT
        artist_id,
        artist_name,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id
            ORDER BY LENGTH(artist_name), artist_name
        ) AS choice
    FROM {songs}
    WHERE artist_name <> ''
) AS names
    ON names.artist_id = artists.artist_id AND names.choice = 1
LEFT JOIN (
    SELECT
        artist_id,
        artist_location,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id
            ORDER BY song_id NULLS FIRST, artist_location
        ) AS choice
    FROM {songs}
    WHERE artist_location <> ''
) AS locations
    ON locations.artist_id = artists.artist_id AND locations.choice = 1
LEFT JOIN (
    SELECT
        artist_id,
        artist_latitude,
        artist_longitude,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id
            ORDER BY song_id NULLS FIRST, artist_latitude, artist_longitude
        ) AS choice
    FROM {songs}
    WHERE artist_latitude IS NOT NULL AND artist_longitude IS NOT NULL
) AS coordinates
    ON coordinates.artist_id = artists.artist_id AND coordinates.choice = 1
"""

artist_table_insert = """
INSERT INTO artist_table (artist_id, name, location, latitude, longitude)""" + ARTIST_TABLE_ROWS.format(
    songs="staging_songs"
)

# Where one song_id has several records, the first in (title, artist_id,
# duration) order wins. A year of 0 means "unknown".
SONG_TABLE_ROWS = """
SELECT song_id, title, artist_id, NULLIF(year, 0), duration
FROM (
    SELECT
        song_id,
        title,
        artist_id,
        year,
        duration,
        ROW_NUMBER() OVER (
            PARTITION BY song_id
            ORDER BY
                title NULLS FIRST,
                artist_id NULLS FIRST,
                duration NULLS FIRST,
                year NULLS FIRST
        ) AS choice
    FROM {songs}
    WHERE song_id IS NOT NULL
) AS records
WHERE choice = 1
"""

song_table_insert = """
INSERT INTO song_table (song_id, title, artist_id, year, duration)""" + SONG_TABLE_ROWS.format(songs="staging_songs")

# Each user's attributes come from their latest event (any page), so level is
# the current level. The last four sort keys only make a tie between two
# copies of one event deterministic.
USER_TABLE_ROWS = """
SELECT user_id, first_name, last_name, gender, level
FROM (
    SELECT
        user_id,
        first_name,
        last_name,
        gender,
        level,
        ROW_NUMBER() OVER (
            PARTITION BY user_id
            ORDER BY
                ts DESC,
                session_id DESC NULLS LAST,
                item_in_session DESC NULLS LAST,
                level DESC NULLS LAST,
                first_name DESC NULLS LAST,
                last_name DESC NULLS LAST,
                gender DESC NULLS LAST
        ) AS recency
    FROM {events}
    WHERE user_id IS NOT NULL
) AS events
WHERE recency = 1
"""

user_table_insert = """
INSERT INTO user_table (user_id, first_name, last_name, gender, level)""" + USER_TABLE_ROWS.format(
    events="staging_events"
)

# In start_time order: each row then goes to the right-hand end of the key's
# index, which PostgreSQL appends to without searching the tree.
TIME_TABLE_ROWS = f"""
SELECT
    start_time,
    EXTRACT(HOUR FROM start_time),
    EXTRACT(DAY FROM start_time),
    EXTRACT(WEEK FROM start_time),
    EXTRACT(MONTH FROM start_time),
    EXTRACT(YEAR FROM start_time),
    EXTRACT(DOW FROM start_time)
FROM (
    SELECT DISTINCT {START_TIME} AS start_time
    FROM {{events}}
    WHERE page = 'NextSong'
) AS plays
{{new_start_times}}ORDER BY start_time
"""

time_table_insert = """
INSERT INTO time_table (start_time, hour, day, week, month, year, weekday)""" + TIME_TABLE_ROWS.format(
    events="staging_events", new_start_times=""
)

# One row per distinct NextSong event (a re-delivered file stages an event
# twice). The catalogue match is made once per distinct (song, artist, length)
# and joined back with a LEFT JOIN, so an unmatched play is kept and a play
# with several candidate songs is not doubled: the smallest song_id wins.
#
# The match is exact: Redshift ignores trailing blanks when it compares
# VARCHARs (and so when it groups them with DISTINCT), so the byte lengths
# must agree too, in the candidates' join, in their DISTINCT and in the join
# of the matches back to the events. "Less than 0.01 s" is decided
# in decimal, as the source files write the numbers: in binary floating point
# 246.31812 - 246.30812 comes out just under 0.01. The first two WHENs only
# keep the decimal cast away from values too large for it.
SONGPLAY_TABLE_ROWS = f"""
SELECT
    {START_TIME},
    events.user_id,
    events.level,
    matches.song_id,
    matches.artist_id,
    events.session_id,
    events.item_in_session,
    events.location,
    events.user_agent
FROM (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY session_id, item_in_session, ts
            ORDER BY
                user_id NULLS FIRST,
                level NULLS FIRST,
                location NULLS FIRST,
                user_agent NULLS FIRST,
                song NULLS FIRST,
                artist NULLS FIRST,
                length NULLS FIRST
        ) AS copy_number
    FROM {{events}}
    WHERE page = 'NextSong'
) AS events
LEFT JOIN (
    SELECT song, song_bytes, artist, artist_bytes, length, song_id, artist_id
    FROM (
        SELECT
            plays.song,
            plays.song_bytes,
            plays.artist,
            plays.artist_bytes,
            plays.length,
            songs.song_id,
            songs.artist_id,
            ROW_NUMBER() OVER (
                PARTITION BY plays.song, plays.song_bytes, plays.artist, plays.artist_bytes, plays.length
                ORDER BY songs.song_id, songs.artist_id NULLS FIRST
            ) AS choice
        FROM (
            SELECT DISTINCT
                song,
                OCTET_LENGTH(song) AS song_bytes,
                artist,
                OCTET_LENGTH(artist) AS artist_bytes,
                length
            FROM {{events}}
            WHERE page = 'NextSong'
        ) AS plays
        JOIN staging_songs AS songs
            ON songs.title = plays.song
            AND songs.artist_name = plays.artist
            AND OCTET_LENGTH(songs.title) = plays.song_bytes
            AND OCTET_LENGTH(songs.artist_name) = plays.artist_bytes
            AND CASE
                WHEN ABS(songs.duration - plays.length) >= 0.02 THEN FALSE
                WHEN ABS(plays.length) >= 1e15 THEN FALSE
                ELSE ABS(CAST(songs.duration AS DECIMAL(38, 9))
                         - CAST(plays.length AS DECIMAL(38, 9))) < 0.01
            END
        WHERE songs.song_id IS NOT NULL
    ) AS candidates
    WHERE choice = 1
) AS matches
    ON matches.song = events.song
    AND matches.song_bytes = OCTET_LENGTH(events.song)
    AND matches.artist = events.artist
    AND matches.artist_bytes = OCTET_LENGTH(events.artist)
    AND matches.length = events.length
WHERE events.copy_number = 1
"""

songplay_table_insert = """
INSERT INTO songplay_table (
    start_time,
    user_id,
    level,
    song_id,
    artist_id,
    session_id,
    item_in_session,
    location,
    user_agent
)""" + SONGPLAY_TABLE_ROWS.format(events="staging_events")

# ---------------------------------------------------------------------------
# Checks (docs/data-contract.md#accounting-checks). Each returns one row: (expected, actual). A check
# passes when the two are equal.
# ---------------------------------------------------------------------------

DISTINCT_PLAYS = """(
        SELECT COUNT(*) FROM (
            SELECT DISTINCT session_id, item_in_session, ts
            FROM staging_events
            WHERE page = 'NextSong'
        ) AS plays
    )"""

check_plays_equal_nextsong_events = f"""
SELECT
    {DISTINCT_PLAYS},
    (SELECT COUNT(*) FROM songplay_table)
"""

check_users_equal_staged_users = """
SELECT
    (SELECT COUNT(DISTINCT user_id) FROM staging_events WHERE user_id IS NOT NULL),
    (SELECT COUNT(*) FROM user_table)
"""

check_songs_equal_staged_songs = """
SELECT
    (SELECT COUNT(DISTINCT song_id) FROM staging_songs WHERE song_id IS NOT NULL),
    (SELECT COUNT(*) FROM song_table)
"""

check_artists_equal_staged_artists = """
SELECT
    (SELECT COUNT(DISTINCT artist_id) FROM staging_songs WHERE artist_id IS NOT NULL),
    (SELECT COUNT(*) FROM artist_table)
"""

check_time_equal_play_times = """
SELECT
    (SELECT COUNT(DISTINCT start_time) FROM songplay_table),
    (SELECT COUNT(*) FROM time_table)
"""


# Redshift's planner takes a declared PRIMARY KEY as true ("Defining table
# constraints") and may answer COUNT(DISTINCT key) with COUNT(key) without
# looking: the very duplicate these checks exist to catch would pass. So each
# counts the distinct values of an expression of the key (key + 0, key || '',
# key + INTERVAL '0 seconds'), which no constraint describes.
def _check_unique_not_null(table, key, expression):
    return f"""
SELECT COUNT(*), COUNT(DISTINCT {expression})
FROM {table}
"""


UNIQUE_KEYS = [  # (table, key, an expression equal to the key that no constraint describes)
    ("songplay_table", "songplay_id", "songplay_id + 0"),
    ("user_table", "user_id", "user_id + 0"),
    ("song_table", "song_id", "song_id || ''"),
    ("artist_table", "artist_id", "artist_id || ''"),
    ("time_table", "start_time", "start_time + INTERVAL '0 seconds'"),
]

check_unique_not_null = {
    f"{table} key unique and not null": _check_unique_not_null(table, key, expression)
    for table, key, expression in UNIQUE_KEYS
}


def _check_relationship(column, dimension):
    return f"""
SELECT 0, COUNT(*)
FROM songplay_table AS plays
LEFT JOIN {dimension} AS dimension
    ON dimension.{column} = plays.{column}
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


# ---------------------------------------------------------------------------
# Figures for the summary
# ---------------------------------------------------------------------------

# Staged NextSong events; less the distinct ones (the first check's expected
# figure), it is the number of duplicates counted once.
count_nextsong_events = """
SELECT COUNT(*) FROM staging_events WHERE page = 'NextSong'
"""

count_matched_plays = """
SELECT COUNT(*) FROM songplay_table WHERE song_id IS NOT NULL
"""

# ---------------------------------------------------------------------------
# The lists the scripts run, in order.
# ---------------------------------------------------------------------------

# songplay_table first: its foreign keys point at the dimensions.
drop_table_queries = [
    songplay_table_drop,
    time_table_drop,
    user_table_drop,
    song_table_drop,
    artist_table_drop,
    staging_events_table_drop,
    staging_songs_table_drop,
    rejected_records_table_drop,
    loaded_files_table_drop,
]

create_table_queries = [
    staging_events_table_create,
    staging_songs_table_create,
    rejected_records_table_create,
    user_table_create,
    artist_table_create,
    song_table_create,
    time_table_create,
    songplay_table_create,
    loaded_files_table_create,
]

clear_staging_queries = [
    staging_events_clear,
    staging_songs_clear,
    rejected_records_clear,
]

copy_table_queries = [staging_events_copy, staging_songs_copy]

clear_star_queries = [
    songplay_table_clear,
    time_table_clear,
    user_table_clear,
    song_table_clear,
    artist_table_clear,
]

# The dimensions first, so that every foreign key of the fact finds its row.
insert_table_queries = {
    "artist_table": artist_table_insert,
    "song_table": song_table_insert,
    "user_table": user_table_insert,
    "time_table": time_table_insert,
    "songplay_table": songplay_table_insert,
}

PLAYS_CHECK = "songplays = distinct NextSong events"

check_queries = {
    PLAYS_CHECK: check_plays_equal_nextsong_events,
    "users = distinct staged user ids": check_users_equal_staged_users,
    "songs = distinct staged song ids": check_songs_equal_staged_songs,
    "artists = distinct staged artist ids": check_artists_equal_staged_artists,
    "time rows = distinct play start times": check_time_equal_play_times,
    **check_unique_not_null,
    **check_relationships,
}

star_tables = ["songplay_table", "user_table", "song_table", "artist_table", "time_table"]
staging_tables = ["staging_events", "staging_songs"]
all_tables = staging_tables + ["rejected_records"] + star_tables + ["loaded_files"]

# ---------------------------------------------------------------------------
# Incremental loads (sparkify/run/ledger.py and mode.py)
#
# The ledger says which source files are staged. A daily run stages only the
# new files, into temporary tables (*_new) that it then appends to staging:
# the staging tables keep every record ever loaded, so each dimension can be
# recomputed from its whole history. Only the keys the new records touch are
# recomputed, by the full load's own SELECTs (above) run on the staging rows
# of those keys, into temporary *_changes tables:
#
# - the dimensions are upserted with MERGE (PostgreSQL 15+, Redshift): a row
#   is updated in place, so the fact's foreign keys stay valid throughout;
# - the fact is replaced by event identity, DELETE then INSERT: MERGE matches
#   only on equalities, and an identity part may be NULL;
# - time_table gains the start times it lacks.
# ---------------------------------------------------------------------------

loaded_files_clear = "DELETE FROM loaded_files"

loaded_files_exists = """
SELECT COUNT(*)
FROM information_schema.tables
WHERE table_schema = current_schema() AND table_name = 'loaded_files'
"""

loaded_files_select = """
SELECT file_key, source, size, version
FROM loaded_files
"""

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
affected_plays_create = """
CREATE TEMP TABLE affected_plays AS
SELECT session_id, item_in_session, ts
FROM staging_events_new
WHERE page = 'NextSong'
UNION
SELECT plays.session_id, plays.item_in_session, plays.ts
FROM staging_events AS plays
JOIN staging_songs_new AS songs
    ON songs.title = plays.song
    AND songs.artist_name = plays.artist
WHERE plays.page = 'NextSong'
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
WHERE events.page = 'NextSong'
    AND events.ts BETWEEN (SELECT MIN(ts) FROM affected_plays) AND (SELECT MAX(ts) FROM affected_plays)
"""

STAR_COLUMNS = {
    "artist_table": ["artist_id", "name", "location", "latitude", "longitude"],
    "song_table": ["song_id", "title", "artist_id", "year", "duration"],
    "user_table": ["user_id", "first_name", "last_name", "gender", "level"],
    "songplay_table": [
        "start_time", "user_id", "level", "song_id", "artist_id",
        "session_id", "item_in_session", "location", "user_agent",
    ],
}


def _changes_create(table):
    """An empty temporary table with the columns the full load inserts into ``table``."""
    return f"""
CREATE TEMP TABLE {table}_changes AS
SELECT {", ".join(STAR_COLUMNS[table])}
FROM {table}
WHERE 1 = 0
"""


def _changes_insert(table, rows):
    """The full load's INSERT for ``table``, into ``table``_changes: ``rows`` is its SELECT, scoped."""
    return f"\nINSERT INTO {table}_changes ({', '.join(STAR_COLUMNS[table])})" + rows


def _merge(table, key):
    """Upsert ``table`` from ``table``_changes by ``key``."""
    changes = f"{table}_changes"
    columns = STAR_COLUMNS[table]
    updates = ",\n    ".join(f"{column} = {changes}.{column}" for column in columns if column != key)
    values = ",\n    ".join(f"{changes}.{column}" for column in columns)
    return f"""
MERGE INTO {table}
USING {changes}
ON {table}.{key} = {changes}.{key}
WHEN MATCHED THEN UPDATE SET
    {updates}
WHEN NOT MATCHED THEN INSERT ({", ".join(columns)})
VALUES (
    {values}
)
"""


# The full load's SELECTs, each reading only the staged rows of the keys that
# the new records touch (a subquery named as the staging table it stands for).
artist_table_changes_insert = _changes_insert("artist_table", ARTIST_TABLE_ROWS.format(songs="""(
        SELECT * FROM staging_songs WHERE artist_id IN (SELECT artist_id FROM staging_songs_new)
    ) AS staging_songs"""))

song_table_changes_insert = _changes_insert("song_table", SONG_TABLE_ROWS.format(songs="""(
        SELECT * FROM staging_songs WHERE song_id IN (SELECT song_id FROM staging_songs_new)
    ) AS staging_songs"""))

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

artist_table_merge = _merge("artist_table", "artist_id")
song_table_merge = _merge("song_table", "song_id")
user_table_merge = _merge("user_table", "user_id")

# The start times the new events add. The lower bound repeats what the
# equality implies, so that only the time rows from the new events' first
# start time on are read, by the primary key's index, not the whole table.
time_table_append = """
INSERT INTO time_table (start_time, hour, day, week, month, year, weekday)""" + TIME_TABLE_ROWS.format(
    events="staging_events_new",
    new_start_times=f"""WHERE NOT EXISTS (
    SELECT 1
    FROM time_table
    WHERE time_table.start_time = plays.start_time
        AND time_table.start_time >= (
            SELECT MIN({START_TIME}) FROM staging_events_new WHERE page = 'NextSong'
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
INSERT INTO songplay_table ({", ".join(STAR_COLUMNS["songplay_table"])})
SELECT {", ".join(STAR_COLUMNS["songplay_table"])}
FROM songplay_table_changes
"""

# What an incremental run does after staging the new files into *_new, in
# order: (step, statement). The dimensions first, so that every foreign key
# of the fact finds its row.
incremental_star_queries = [
    ("staging_events", staging_events_append),
    ("staging_songs", staging_songs_append),
    ("artist_table", _changes_create("artist_table")),
    ("artist_table", artist_table_changes_insert),
    ("artist_table", artist_table_merge),
    ("song_table", _changes_create("song_table")),
    ("song_table", song_table_changes_insert),
    ("song_table", song_table_merge),
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

# ---------------------------------------------------------------------------
# A daily run's checks (docs/data-contract.md section 4, on the change)
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
    WHERE page = 'NextSong'
    EXCEPT
    SELECT session_id, item_in_session, ts
    FROM staging_events
    WHERE page = 'NextSong'
        AND {_NEW_DAYS}
) AS new_plays
"""

# One start time per distinct ts: TIMESTAMP 'epoch' + ts milliseconds.
new_play_times_count = f"""
SELECT COUNT(*)
FROM (
    SELECT ts
    FROM staging_events_new
    WHERE page = 'NextSong'
    EXCEPT
    SELECT ts
    FROM staging_events
    WHERE page = 'NextSong'
        AND {_NEW_DAYS}
) AS new_play_times
"""

# A user's events are spread over the month: this one reads staging's
# user_id whole.
new_users_count = """
SELECT COUNT(*)
FROM (
    SELECT user_id
    FROM staging_events_new
    WHERE user_id IS NOT NULL
    EXCEPT
    SELECT user_id
    FROM staging_events
) AS new_users
"""


def _new_song_keys_count(key):
    return f"""
SELECT COUNT(*)
FROM (
    SELECT {key}
    FROM staging_songs_new
    WHERE {key} IS NOT NULL
    EXCEPT
    SELECT {key}
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

# The summary's figures for a daily run, read before its work tables are
# dropped: the plays it wrote (added or replaced) and how many of them
# match the catalogue; the NextSong events it staged.
written_plays_count = """
SELECT COUNT(*), COUNT(song_id)
FROM songplay_table_changes
"""

new_nextsong_events_count = """
SELECT COUNT(*) FROM staging_events_new WHERE page = 'NextSong'
"""

# The daily statements whose row counts the summary shows, and what it calls them.
COUNTED = {
    staging_events_append: "staging_events: rows appended",
    staging_songs_append: "staging_songs: rows appended",
    artist_table_merge: "artist_table: rows upserted",
    song_table_merge: "song_table: rows upserted",
    user_table_merge: "user_table: rows upserted",
    time_table_append: "time_table: rows added",
    songplay_table_replace_delete: "songplay_table: plays replaced",
    songplay_table_replace_insert: "songplay_table: plays added",
}
