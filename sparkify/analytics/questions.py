"""The questions Sparkify asks of its warehouse, one SQL statement each, and a chart for each answer.

The statements are in Redshift's dialect and run unchanged on PostgreSQL
(tests/test_analytics.py runs each on both grammars' terms: sqlglot's
Redshift parser, and the embedded PostgreSQL). They read the star schema
only, never the staging tables, as an analyst would.

    from sparkify.analytics import questions as analytics
    frame = analytics.ask(connection, "plays_by_hour")     # a pandas DataFrame
    analytics.chart("plays_by_hour", frame)                 # a matplotlib Axes

Times are UTC, as the app logs them.
"""

import warnings

import pandas
from matplotlib.ticker import MaxNLocator

# Names and titles hold any script, and matplotlib's default font has no CJK
# glyphs: those letters show as boxes. One warning per glyph per chart says
# nothing more.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")

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

# The records the local loader could not stage (etl.py --max-errors).
rejected_records = """
SELECT table_name, source_file, line_number, column_name, reason
FROM rejected_records
ORDER BY table_name, source_file, line_number
LIMIT 20
"""

# Redshift only: what its COPY rejected, most recent first.
redshift_load_errors = """
SELECT starttime, TRIM(filename) AS filename, line_number, TRIM(colname) AS column_name,
       TRIM(err_reason) AS reason
FROM stl_load_errors
ORDER BY starttime DESC
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

# Only plays matched to the catalogue name a song; ties in title order.
top_songs = """
SELECT song_table.title AS song, artist_table.name AS artist, COUNT(*) AS plays
FROM songplay_table
JOIN song_table ON song_table.song_id = songplay_table.song_id
LEFT JOIN artist_table ON artist_table.artist_id = song_table.artist_id
GROUP BY song_table.song_id, song_table.title, artist_table.name
ORDER BY plays DESC, song_table.title, song_table.song_id
LIMIT 10
"""

top_artists = """
SELECT artist_table.name AS artist, COUNT(*) AS plays, COUNT(DISTINCT songplay_table.user_id) AS listeners
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


# ---------------------------------------------------------------------------
# Charts: one per question, each on a matplotlib Axes
# ---------------------------------------------------------------------------


def _bars(frame, x, y, title, xlabel, ax, horizontal=False):
    kind = "barh" if horizontal else "bar"
    frame = frame.assign(**{x: frame[x].astype(str).map(_shorten)})
    frame.plot(kind=kind, x=x, y=y, ax=ax, legend=isinstance(y, list), color=None if isinstance(y, list) else "C0")
    ax.set_title(title)
    if horizontal:
        ax.invert_yaxis()  # the largest first, at the top
        ax.set_xlabel("plays")
        ax.set_ylabel("")
    else:
        ax.set_xlabel(xlabel)
        ax.set_ylabel("plays")
        ax.tick_params(axis="x", labelrotation=0)
    return ax


def _shorten(label, width=40):
    return label if len(label) <= width else label[: width - 1] + "\u2026"


def _hour_chart(frame, ax):
    every_hour = frame.set_index("hour").reindex(range(24), fill_value=0).reset_index()
    return _bars(every_hour, "hour", "plays", "Plays by hour of day (UTC)", "hour of day (UTC)", ax)


def _weekday_chart(frame, ax):
    return _bars(frame, "day", "plays", "Plays by weekday", "", ax)


def _top_songs_chart(frame, ax):
    labelled = frame.assign(label=frame["song"] + " - " + frame["artist"].fillna("?"))
    return _bars(labelled, "label", "plays", "Top songs (matched plays)", "", ax, horizontal=True)


def _top_artists_chart(frame, ax):
    return _bars(frame, "artist", "plays", "Top artists (matched plays)", "", ax, horizontal=True)


def _levels_chart(frame, ax):
    shares = frame.set_index("level")[["users", "plays"]]
    shares = (100 * shares / shares.sum()).T
    shares.plot(kind="bar", stacked=True, ax=ax)
    ax.set_title("Free and paid: share of users (now) and of plays")
    ax.set_ylabel("%")
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelrotation=0)
    return ax


def _level_changes_chart(frame, ax):
    days = frame.assign(day=pandas.to_datetime(frame["day"]).dt.strftime("%m-%d"))
    _bars(days, "day", ["upgrades", "downgrades"], "Level changes by day", "day (UTC)", ax)
    ax.set_ylabel("level changes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=90)
    return ax


def _locations_chart(frame, ax):
    return _bars(frame, "location", "plays", "Busiest locations", "", ax, horizontal=True)


def _platform_chart(frame, ax):
    table = frame.pivot_table(index="browser", columns="operating_system", values="plays", aggfunc="sum", fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values().index]
    table.plot(kind="barh", stacked=True, ax=ax)
    ax.set_title("Plays by browser and operating system")
    ax.set_xlabel("plays")
    ax.set_ylabel("")
    ax.legend(title="")
    return ax


charts = {
    "plays_by_hour": _hour_chart,
    "plays_by_weekday": _weekday_chart,
    "top_songs": _top_songs_chart,
    "top_artists": _top_artists_chart,
    "users_and_plays_by_level": _levels_chart,
    "level_changes_by_day": _level_changes_chart,
    "busiest_locations": _locations_chart,
    "plays_by_platform": _platform_chart,
}


def chart(question: str, frame: pandas.DataFrame, ax=None):
    """Draw a question's answer; on a new figure unless ``ax`` is given. Returns the Axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.5))
    if frame.empty:
        ax.set_title(question.replace("_", " ").capitalize())
        ax.text(0.5, 0.5, "no rows to show", ha="center", va="center", transform=ax.transAxes)
    else:
        charts[question](frame, ax)
    ax.figure.tight_layout()
    return ax
