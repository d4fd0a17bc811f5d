"""The questions Sparkify asks of its warehouse, one SQL statement each (charts.py draws the answers).

The statements are in Redshift's dialect and run unchanged on PostgreSQL
(tests/test_analytics.py runs each on both grammars' terms: sqlglot's
Redshift parser, and the embedded PostgreSQL). They read the star schema
only, never the staging tables, as an analyst would.

    from sparkify.analytics import charts, questions as analytics
    frame = analytics.ask(connection, "plays_by_hour")     # a pandas DataFrame
    charts.chart("plays_by_hour", frame)                    # a matplotlib Axes

Times are UTC, as the app logs them.
"""

import pandas

# ---------------------------------------------------------------------------
# Checks after a load
# ---------------------------------------------------------------------------

rows_per_table = """
SELECT 'songplay_table' AS table_name, COUNT(*) AS row_count FROM songplay_table
UNION ALL SELECT 'user_table', COUNT(*) FROM user_table
UNION ALL SELECT 'song_table', COUNT(*) FROM song_table
UNION ALL SELECT 'artist_table', COUNT(*) FROM artist_table
UNION ALL SELECT 'time_table', COUNT(*) FROM time_table
UNION ALL SELECT 'staging_events', COUNT(*) FROM staging_events
UNION ALL SELECT 'staging_songs', COUNT(*) FROM staging_songs
UNION ALL SELECT 'rejected_records', COUNT(*) FROM rejected_records
"""

# The records a load could not stage and kept (etl.py --max-errors): the local loader's, and on Redshift
# COPY's load errors of this warehouse's loads, which both engines keep here (Serverless has no STL views).
rejected_records = """
SELECT table_name, source_file, line_number, column_name, reason
FROM rejected_records
ORDER BY table_name, source_file, line_number
LIMIT 20
"""

# ---------------------------------------------------------------------------
# The analytics
# ---------------------------------------------------------------------------

plays_by_hour = """
SELECT time_table.hour, COUNT(*) AS plays
FROM songplay_table
JOIN time_table ON time_table.start_time = songplay_table.start_time
GROUP BY time_table.hour
ORDER BY time_table.hour
"""

plays_by_weekday = """
SELECT
    time_table.weekday,
    CASE time_table.weekday
        WHEN 0 THEN 'Sun' WHEN 1 THEN 'Mon' WHEN 2 THEN 'Tue' WHEN 3 THEN 'Wed'
        WHEN 4 THEN 'Thu' WHEN 5 THEN 'Fri' ELSE 'Sat'
    END AS day,
    COUNT(*) AS plays
FROM songplay_table
JOIN time_table ON time_table.start_time = songplay_table.start_time
GROUP BY time_table.weekday
ORDER BY time_table.weekday
"""

# Only plays matched to the catalogue name a song; ties in title order. The
# song id tells apart two songs of one title and artist.
top_songs = """
SELECT song_table.title AS song, artist_table.name AS artist, COUNT(*) AS plays, song_table.song_id
FROM songplay_table
JOIN song_table ON song_table.song_id = songplay_table.song_id
LEFT JOIN artist_table ON artist_table.artist_id = song_table.artist_id
GROUP BY song_table.song_id, song_table.title, artist_table.name
ORDER BY plays DESC, song_table.title, song_table.song_id
LIMIT 10
"""

# The artist id tells apart two artists of one name (the sample has two "DJ Ghost").
top_artists = """
SELECT artist_table.name AS artist, COUNT(*) AS plays, COUNT(DISTINCT songplay_table.user_id) AS listeners,
       artist_table.artist_id
FROM songplay_table
JOIN artist_table ON artist_table.artist_id = songplay_table.artist_id
GROUP BY artist_table.artist_id, artist_table.name
ORDER BY plays DESC, artist_table.name, artist_table.artist_id
LIMIT 10
"""

# Users by their level now (user_table holds the latest); plays by the level
# the user had when playing.
users_and_plays_by_level = """
SELECT
    COALESCE(users.level, plays.level) AS level,
    COALESCE(users.users, 0) AS users,
    COALESCE(plays.plays, 0) AS plays
FROM (
    SELECT level, COUNT(*) AS users FROM user_table GROUP BY level
) AS users
FULL OUTER JOIN (
    SELECT level, COUNT(*) AS plays FROM songplay_table GROUP BY level
) AS plays
    ON plays.level = users.level
ORDER BY 1
"""

# A change is a play whose level differs from the same user's previous play.
level_changes_by_day = """
SELECT
    CAST(start_time AS DATE) AS day,
    SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS upgrades,
    SUM(CASE WHEN level = 'free' THEN 1 ELSE 0 END) AS downgrades
FROM (
    SELECT
        start_time,
        level,
        LAG(level) OVER (
            PARTITION BY user_id
            ORDER BY start_time, session_id, item_in_session
        ) AS previous_level
    FROM songplay_table
    WHERE user_id IS NOT NULL
) AS plays
WHERE previous_level <> level
GROUP BY CAST(start_time AS DATE)
ORDER BY 1
"""

busiest_locations = """
SELECT location, COUNT(*) AS plays, COUNT(DISTINCT user_id) AS listeners
FROM songplay_table
WHERE location IS NOT NULL
GROUP BY location
ORDER BY plays DESC, location
LIMIT 10
"""

# The first rule that matches wins: an iPhone's agent also says "Mac OS X",
# Chrome's also says "Safari", Edge's also says "Chrome". Ties are ordered by
# the lower-case labels, whose first letters all differ, so that every
# collation (Redshift's binary one, a PostgreSQL locale's) gives one order.
plays_by_platform = """
SELECT operating_system, browser, COUNT(*) AS plays, COUNT(DISTINCT user_id) AS listeners
FROM (
    SELECT
        user_id,
        CASE
            WHEN user_agent LIKE '%iPhone%' OR user_agent LIKE '%iPad%' THEN 'iOS'
            WHEN user_agent LIKE '%Android%' THEN 'Android'
            WHEN user_agent LIKE '%Windows%' THEN 'Windows'
            WHEN user_agent LIKE '%Mac OS X%' THEN 'macOS'
            WHEN user_agent LIKE '%Linux%' THEN 'Linux'
            ELSE 'other'
        END AS operating_system,
        CASE
            WHEN user_agent LIKE '%Edge/%' OR user_agent LIKE '%Edg/%' THEN 'Edge'
            WHEN user_agent LIKE '%Chrome/%' OR user_agent LIKE '%CriOS/%' THEN 'Chrome'
            WHEN user_agent LIKE '%Firefox/%' THEN 'Firefox'
            WHEN user_agent LIKE '%Trident/%' OR user_agent LIKE '%MSIE %' THEN 'Internet Explorer'
            WHEN user_agent LIKE '%Safari/%' THEN 'Safari'
            ELSE 'other'
        END AS browser
    FROM songplay_table
) AS plays
GROUP BY operating_system, browser
ORDER BY plays DESC, LOWER(operating_system), LOWER(browser)
"""

questions = {
    "plays_by_hour": plays_by_hour,
    "plays_by_weekday": plays_by_weekday,
    "top_songs": top_songs,
    "top_artists": top_artists,
    "users_and_plays_by_level": users_and_plays_by_level,
    "level_changes_by_day": level_changes_by_day,
    "busiest_locations": busiest_locations,
    "plays_by_platform": plays_by_platform,
}

checks = {
    "rows_per_table": rows_per_table,
    "rejected_records": rejected_records,
}


def ask(connection, question: str) -> pandas.DataFrame:
    """Run a question (a name above, or SQL) and return its answer as a DataFrame.

    The read-only transaction is ended at once, so that an idle session holds
    no lock on Redshift.
    """
    sql = questions.get(question) or checks.get(question) or question
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            columns = [column.name for column in cursor.description]
            rows = cursor.fetchall()
    finally:
        connection.rollback()
    return pandas.DataFrame(rows, columns=columns)
