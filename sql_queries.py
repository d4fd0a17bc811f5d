"""The warehouse's tables and the full load: every DROP, CREATE, COPY and INSERT, one statement per string.

The statements are written in Amazon Redshift's dialect: that is the source of
truth. ``sparkify.engines.postgres.to_postgres()`` derives the PostgreSQL rendering from the
same strings, mechanically, for the embedded database and CI (docs/design.md lists
exactly what it changes).

Table and column names are those of the data contract (docs/data-contract.md). Each
table's CREATE TABLE is the one definition of its columns: ``COLUMNS`` reads them from it,
and every statement, test and benchmark that lists a table's columns takes them from
there. The order of the lists at the end of this file is the order in which the
scripts run the statements.

The SQL that is run around these statements lives beside the code that runs it:

- a daily run's statements (work tables, upserts, appends): sparkify/run/daily_load_sql.py;
- the reconciliation checks, and the figures of the summary: sparkify/checks/reconciliation_sql.py;
- the ledger of loaded files: sparkify/run/ledger.py;
- Redshift's rejection of a staged ts out of range: sparkify/engines/redshift.py.

A daily run recomputes the keys it touches with this file's own SELECTs (the
``*_ROWS`` fragments), so the two loads cannot drift apart.
"""

import re

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

# The ledger of loaded files (sparkify/run/ledger.py): one row per source file
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
# Columns
#
# Each table's columns are those of its CREATE TABLE above, in that order:
# one column to a line, its name first; the lines of the table's keys
# (PRIMARY KEY, UNIQUE, ...) are not columns. Every list of a table's columns,
# in this file, the daily run, the checks, the tests and the benchmarks, comes
# from COLUMNS or INSERT_COLUMNS.
# ---------------------------------------------------------------------------

# In the order create_tables.py runs them: a table after those its foreign keys point at.
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

_TABLE_KEYS = {"PRIMARY", "UNIQUE", "FOREIGN", "CONSTRAINT", "CHECK"}  # the first word of a key's line
_IDENTITY = re.compile(r"\bIDENTITY\s*\(", re.IGNORECASE)
_PARENTHESES = re.compile(r"\([^()]*\)")  # DECIMAL(38, 9): a comma there does not end the column


def column_definitions(create_table) -> tuple[str, list[tuple[str, str]]]:
    """(table, [(column, the rest of its line)]) of one CREATE TABLE of this file."""
    head, body = create_table.split("(\n", 1)
    table, definitions = head.split()[-1], []
    for line in body.split("\n)\n", 1)[0].splitlines():
        if not line.strip() or line.split()[0].upper() in _TABLE_KEYS:
            continue
        parts = line.split(maxsplit=1)
        if len(parts) < 2 or not parts[0].isidentifier() or "," in _PARENTHESES.sub("", parts[1]).rstrip(","):
            raise ValueError(f"{table}: {line.strip()!r} is not a column's line (its name, then its type)")
        definitions.append((parts[0], parts[1]))
    return table, definitions


_DEFINITIONS = dict(column_definitions(create) for create in create_table_queries)

# table -> its columns, in the order of its CREATE TABLE
COLUMNS = {table: tuple(name for name, _ in columns) for table, columns in _DEFINITIONS.items()}

# table -> the columns a load writes: all but an IDENTITY one, which the database fills (songplay_id)
INSERT_COLUMNS = {
    table: tuple(name for name, definition in columns if not _IDENTITY.search(definition))
    for table, columns in _DEFINITIONS.items()
}

ONE_PER_LINE = ",\n    "  # the separator of column_list() for a list too long for one line


def column_list(table, separator=", ") -> str:
    """The columns a load writes into ``table``, as an INSERT names them: ``artist_id, name, ...``."""
    return separator.join(INSERT_COLUMNS[table])


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

# A daily run on Redshift (sparkify/engines/redshift.py) stages exactly the new
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

# ---------------------------------------------------------------------------
# Text compared byte for byte, on both engines
#
# Redshift ignores trailing blanks when it compares VARCHARs: 'NextSong ' =
# 'NextSong', 'X ' = 'X' and '  ' = '' there, in =, <>, IN, joins, DISTINCT,
# GROUP BY, PARTITION BY, EXCEPT and ORDER BY alike
# (https://docs.aws.amazon.com/redshift/latest/dg/r_Examples_with_character_types.html).
# PostgreSQL and the data contract compare every byte. So wherever a
# statement of the loads or the checks compares, groups or orders text, it
# compares the byte lengths too, which count trailing blanks on both engines
# (OCTET_LENGTH): equal text of equal byte length is the same bytes. Each
# such guard is an OCTET_LENGTH next to the text it guards; a SELECT that
# ranks or groups by text carries the byte length as a column of its own
# (*_bytes). docs/data-contract.md#ordering-rules states the rule.
# ---------------------------------------------------------------------------


def nextsong(page="page") -> str:
    """The condition of a play: ``page`` is 'NextSong', byte for byte ('NextSong ' is another page)."""
    return f"{page} = 'NextSong' AND OCTET_LENGTH({page}) = OCTET_LENGTH('NextSong')"


def same_text(left, right) -> str:
    """``left`` equals ``right`` byte for byte: as text, and in byte length."""
    return f"{left} = {right}\n    AND OCTET_LENGTH({left}) = OCTET_LENGTH({right})"


def text_key(column) -> str:
    """One value per distinct ``column`` byte for byte, for COUNT(DISTINCT ...): 'X' and 'X ' give
    'X|1' and 'X |2'. NULL stays NULL, so COUNT(DISTINCT ...) leaves it out, as it does the column."""
    return f"{column} || '|' || OCTET_LENGTH({column})"


# ---------------------------------------------------------------------------
# Transform: staging -> star schema, in one transaction.
#
# DELETE, not TRUNCATE: TRUNCATE commits implicitly on Redshift, and a failed
# run must leave the previous warehouse as it was. The fact goes first, as its
# foreign keys point at the dimensions.
#
# Each star table's rows are a SELECT of their own (the *_ROWS fragments), of
# a staging table named by {events} or {songs}. The full load runs them on
# the whole of staging; a daily run (sparkify/run/daily_load_sql.py) runs the
# very same SELECTs on the staged rows of the keys its new records touch.
# Each SELECT gives its table's columns in the order of its CREATE TABLE,
# which is the order the INSERTs name them in (column_list()).
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
# Byte length: 'X' and 'X ' are two artists, "  " is a name (not empty), and
# a tie on text is decided by the byte length, as on PostgreSQL.
ARTIST_TABLE_ROWS = """
SELECT
    artists.artist_id,
    names.artist_name,
    locations.artist_location,
    coordinates.artist_latitude,
    coordinates.artist_longitude
FROM (
    SELECT DISTINCT artist_id, OCTET_LENGTH(artist_id) AS artist_id_bytes
    FROM {songs}
    WHERE artist_id IS NOT NULL
) AS artists
LEFT JOIN (
    SELECT
        artist_id,
        OCTET_LENGTH(artist_id) AS artist_id_bytes,
        artist_name,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id, OCTET_LENGTH(artist_id)
            ORDER BY LENGTH(artist_name), artist_name, OCTET_LENGTH(artist_name)
        ) AS choice
    FROM {songs}
    WHERE OCTET_LENGTH(artist_name) > 0
) AS names
    ON names.artist_id = artists.artist_id
    AND names.artist_id_bytes = artists.artist_id_bytes
    AND names.choice = 1
LEFT JOIN (
    SELECT
        artist_id,
        OCTET_LENGTH(artist_id) AS artist_id_bytes,
        artist_location,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id, OCTET_LENGTH(artist_id)
            ORDER BY
                song_id NULLS FIRST,
                OCTET_LENGTH(song_id) NULLS FIRST,
                artist_location,
                OCTET_LENGTH(artist_location)
        ) AS choice
    FROM {songs}
    WHERE OCTET_LENGTH(artist_location) > 0
) AS locations
    ON locations.artist_id = artists.artist_id
    AND locations.artist_id_bytes = artists.artist_id_bytes
    AND locations.choice = 1
LEFT JOIN (
    SELECT
        artist_id,
        OCTET_LENGTH(artist_id) AS artist_id_bytes,
        artist_latitude,
        artist_longitude,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id, OCTET_LENGTH(artist_id)
            ORDER BY
                song_id NULLS FIRST,
                OCTET_LENGTH(song_id) NULLS FIRST,
                artist_latitude,
                artist_longitude
        ) AS choice
    FROM {songs}
    WHERE artist_latitude IS NOT NULL AND artist_longitude IS NOT NULL
) AS coordinates
    ON coordinates.artist_id = artists.artist_id
    AND coordinates.artist_id_bytes = artists.artist_id_bytes
    AND coordinates.choice = 1
"""

artist_table_insert = f"""
INSERT INTO artist_table ({column_list("artist_table")})""" + ARTIST_TABLE_ROWS.format(songs="staging_songs")

# Where one song_id has several records, the first in (title, artist_id,
# duration) order wins. A year of 0 means "unknown". Byte length: 'X' and
# 'X ' are two songs; titles or artist ids that differ by a trailing blank
# do not tie.
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
            PARTITION BY song_id, OCTET_LENGTH(song_id)
            ORDER BY
                title NULLS FIRST,
                OCTET_LENGTH(title) NULLS FIRST,
                artist_id NULLS FIRST,
                OCTET_LENGTH(artist_id) NULLS FIRST,
                duration NULLS FIRST,
                year NULLS FIRST
        ) AS choice
    FROM {songs}
    WHERE song_id IS NOT NULL
) AS records
WHERE choice = 1
"""

song_table_insert = f"""
INSERT INTO song_table ({column_list("song_table")})""" + SONG_TABLE_ROWS.format(songs="staging_songs")

# Each user's attributes come from their latest event (any page), so level is
# the current level. Only the events at the user's latest ts can be it: those
# are found by a join with each user's MAX(ts), and only they are ranked, not
# every event of the month. The last four sort keys only make a tie between
# two copies of one event deterministic; byte length: two that differ by a
# trailing blank do not tie.
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
                session_id DESC NULLS LAST,
                item_in_session DESC NULLS LAST,
                level DESC NULLS LAST,
                OCTET_LENGTH(level) DESC NULLS LAST,
                first_name DESC NULLS LAST,
                OCTET_LENGTH(first_name) DESC NULLS LAST,
                last_name DESC NULLS LAST,
                OCTET_LENGTH(last_name) DESC NULLS LAST,
                gender DESC NULLS LAST,
                OCTET_LENGTH(gender) DESC NULLS LAST
        ) AS recency
    FROM {events}
    JOIN (
        SELECT user_id AS latest_user_id, MAX(ts) AS latest_ts
        FROM {events}
        WHERE user_id IS NOT NULL
        GROUP BY user_id
    ) AS latest
        ON latest.latest_user_id = user_id
        AND latest.latest_ts = ts
) AS events
WHERE recency = 1
"""

user_table_insert = f"""
INSERT INTO user_table ({column_list("user_table")})""" + USER_TABLE_ROWS.format(events="staging_events")

# One row per distinct play ts (start_time is a function of ts that keeps
# them apart and in order), in ts order: staging_events is in that order (its
# sort key; an index on PostgreSQL), so the distinct values come out of one
# pass without a sort, and each row goes to the right-hand end of the key's
# index, which PostgreSQL appends to without searching the tree. DATE_PART
# gives the same numbers as EXTRACT on both engines (a DOUBLE PRECISION, cast
# to the column's SMALLINT); PostgreSQL computes EXTRACT in NUMERIC, which
# took half of this statement's time.
TIME_TABLE_ROWS = f"""
SELECT
    start_time,
    CAST(DATE_PART('hour', start_time) AS SMALLINT),
    CAST(DATE_PART('day', start_time) AS SMALLINT),
    CAST(DATE_PART('week', start_time) AS SMALLINT),
    CAST(DATE_PART('month', start_time) AS SMALLINT),
    CAST(DATE_PART('year', start_time) AS SMALLINT),
    CAST(DATE_PART('dow', start_time) AS SMALLINT)
FROM (
    SELECT ts, {START_TIME} AS start_time
    FROM (
        SELECT DISTINCT ts
        FROM {{events}}
        WHERE {nextsong()}
    ) AS play_times
) AS plays
{{new_start_times}}ORDER BY ts
"""

time_table_insert = f"""
INSERT INTO time_table ({column_list("time_table")})""" + TIME_TABLE_ROWS.format(
    events="staging_events", new_start_times=""
)

# One row per distinct NextSong event (a re-delivered file stages an event
# twice). The copies are ranked by event identity with ts first: staging_events
# is in ts order (its sort key; an index on PostgreSQL), so only the few events
# of one ts are sorted at a time, not the month's. The catalogue match is made
# once per distinct (song, artist, length) and joined back with a LEFT JOIN,
# so an unmatched play is kept and a play with several candidate songs is not
# doubled: the smallest song_id wins. Only the plays whose song and artist
# name a catalogue record are matched (most do not): the catalogue's
# (title, artist_name) pairs pick them out first, by a hash join.
#
# The match is exact: Redshift ignores trailing blanks when it compares
# VARCHARs (and so when it groups them with DISTINCT), so the byte lengths
# must agree too, in the candidates' join, in their DISTINCT and in the join
# of the matches back to the events; and a tie between two copies of one
# event, or two candidate songs, is not decided by a trailing blank. "Less than 0.01 s" is decided
# in decimal, as the source files write the numbers: in binary floating point
# 246.31812 - 246.30812 comes out just under 0.01. The first two WHENs only
# keep the decimal cast away from values too large for it.
COPY_NUMBER = """ROW_NUMBER() OVER (
            PARTITION BY ts, session_id, item_in_session
            ORDER BY
                user_id NULLS FIRST,
                level NULLS FIRST,
                OCTET_LENGTH(level) NULLS FIRST,
                location NULLS FIRST,
                OCTET_LENGTH(location) NULLS FIRST,
                user_agent NULLS FIRST,
                OCTET_LENGTH(user_agent) NULLS FIRST,
                song NULLS FIRST,
                OCTET_LENGTH(song) NULLS FIRST,
                artist NULLS FIRST,
                OCTET_LENGTH(artist) NULLS FIRST,
                length NULLS FIRST
        )"""

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
        {COPY_NUMBER} AS copy_number
    FROM {{events}}
    WHERE {nextsong()}
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
                ORDER BY
                    songs.song_id,
                    OCTET_LENGTH(songs.song_id),
                    songs.artist_id NULLS FIRST,
                    OCTET_LENGTH(songs.artist_id) NULLS FIRST
            ) AS choice
        FROM (
            SELECT DISTINCT
                song,
                OCTET_LENGTH(song) AS song_bytes,
                artist,
                OCTET_LENGTH(artist) AS artist_bytes,
                length
            FROM {{events}}
            JOIN (
                SELECT DISTINCT title, artist_name
                FROM staging_songs
                WHERE song_id IS NOT NULL
            ) AS catalogue
                ON catalogue.title = song
                AND catalogue.artist_name = artist
            WHERE {nextsong()}
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

songplay_table_insert = f"""
INSERT INTO songplay_table (
    {column_list("songplay_table", ONE_PER_LINE)}
)""" + SONGPLAY_TABLE_ROWS.format(events="staging_events")

# The same when no event is staged twice (as many distinct identities as
# NextSong events, which the checks count anyway): each event is its own
# play, and there is no copy to rank. The events are then read once, in
# any order, not ranked in ts order: a third of the statement's time.
songplay_table_insert_no_copies = songplay_table_insert.replace(COPY_NUMBER, "1")

# ---------------------------------------------------------------------------
# The lists the scripts run, in order (create_table_queries is above, with
# the columns read from it).
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

star_tables = ["songplay_table", "user_table", "song_table", "artist_table", "time_table"]
staging_tables = ["staging_events", "staging_songs"]
all_tables = staging_tables + ["rejected_records"] + star_tables + ["loaded_files"]
