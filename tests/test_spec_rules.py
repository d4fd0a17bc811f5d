"""One hand-written example per rule of docs/data-contract.md: small inputs, the exact rows expected.

Each test writes its own source folder, runs the whole ETL on it (which clears
and rebuilds the module's warehouse), and compares whole rows with the rows
written out below. Test names say the guarantee they check.
"""

import json
from datetime import datetime

import psycopg2
import psycopg2.extensions
import pytest
from helpers import event, song, write_source

from sparkify import api
from sql_queries import column_list

PLAY_ORDER = "session_id, item_in_session, start_time"
PHOENIX = "Phoenix-Mesa-Scottsdale, AZ"
AGENT = '"Mozilla/5.0 (Windows NT 6.1; WOW64)"'

# The default event's ts, 1541106106796 ms after the epoch (a Thursday).
START = datetime(2018, 11, 1, 21, 1, 46, 796000)


def at(text):
    """A TIMESTAMP as PostgreSQL returns it: '2018-11-01 21:01:46.796' -> datetime."""
    return datetime.fromisoformat(text)


def load(warehouse, folder, **source):
    """Write a source folder, run the ETL on it; it must commit and reject nothing."""
    result = warehouse.load(write_source(folder, **source))
    assert result.committed
    assert [(load.table, load.rejected) for load in result.loads] == [
        ("staging_events", []),
        ("staging_songs", []),
    ]
    return result


def plays(warehouse):
    return warehouse.table("songplay_table", column_list("songplay_table"), PLAY_ORDER)


def users(warehouse):
    return warehouse.table("user_table", column_list("user_table"), "user_id")


def songs(warehouse):
    return warehouse.table("song_table", column_list("song_table"), "song_id")


def artists(warehouse):
    return warehouse.table("artist_table", column_list("artist_table"), "artist_id")


def times(warehouse):
    return warehouse.table("time_table", column_list("time_table"), "start_time")


# ---------------------------------------------------------------------------
# songplay_table.start_time and time_table
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts, start_time",
    [
        (1541106106796, "2018-11-01 21:01:46.796"),
        (1541106106000, "2018-11-01 21:01:46"),
        (1541106106001, "2018-11-01 21:01:46.001"),
        (1541106106999, "2018-11-01 21:01:46.999"),  # not rounded up to the next second
        (1541894399999, "2018-11-10 23:59:59.999"),  # not rounded up to the next day
        (0, "1970-01-01 00:00:00"),
    ],
)
def test_songplay_start_time_keeps_milliseconds(warehouse, tmp_path, ts, start_time):
    load(warehouse, tmp_path, events=[event(ts=ts)])
    assert plays(warehouse) == [(at(start_time), 8, "free", None, None, 139, 1, PHOENIX, AGENT)]


@pytest.mark.parametrize(
    "ts, time_row",
    [
        # Thursday
        (1541106106796, ("2018-11-01 21:01:46.796", 21, 1, 44, 11, 2018, 4)),
        # Sunday, half an hour after midnight UTC: weekday 0, still ISO week 44
        (1541291400250, ("2018-11-04 00:30:00.250", 0, 4, 44, 11, 2018, 0)),
        # Saturday, the last millisecond of the day
        (1541894399999, ("2018-11-10 23:59:59.999", 23, 10, 45, 11, 2018, 6)),
        # Monday 31 December 2018 is in ISO week 1 (of 2019); year stays 2018
        (1546257600000, ("2018-12-31 12:00:00", 12, 31, 1, 12, 2018, 1)),
        # Sunday 3 January 2021 is in ISO week 53 (of 2020); year is 2021
        (1609661730500, ("2021-01-03 08:15:30.500", 8, 3, 53, 1, 2021, 0)),
    ],
)
def test_time_row_gives_hour_day_week_month_year_weekday_of_start_time(warehouse, tmp_path, ts, time_row):
    load(warehouse, tmp_path, events=[event(ts=ts)])
    start_time, *parts = time_row
    assert times(warehouse) == [(at(start_time), *parts)]
    assert warehouse.table("songplay_table", "start_time") == [(at(start_time),)]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_start_time_is_utc_whatever_the_session_time_zone(warehouse, tmp_path, zone):
    """The ETL runs on a connection whose TimeZone is ``zone`` (UTC-11 to UTC+14)."""
    source = write_source(
        tmp_path,
        events=[
            event(ts=1541106106796, itemInSession=1),  # Thursday 21:01 UTC, Friday in Kiritimati
            event(ts=1541291400250, itemInSession=2),  # Sunday 00:30 UTC, Saturday in New York
        ],
    )
    options = psycopg2.extensions.parse_dsn(warehouse.dsn).get("options", "")
    connection = psycopg2.connect(warehouse.dsn, options=f"{options} -c TimeZone={zone}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TimeZone")
            assert cursor.fetchone() == (zone,)
        connection.rollback()
        # a source of events only, which replaces the previous test's
        assert api.run(connection, "postgres", source, allow_empty=True, replace_source=True).committed
    finally:
        connection.close()
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", None, None, 139, 1, PHOENIX, AGENT),
        (at("2018-11-04 00:30:00.250"), 8, "free", None, None, 139, 2, PHOENIX, AGENT),
    ]
    assert times(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 21, 1, 44, 11, 2018, 4),
        (at("2018-11-04 00:30:00.250"), 0, 4, 44, 11, 2018, 0),
    ]


def test_time_table_has_one_row_per_distinct_songplay_start_time(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[
            event(ts=1541106106796, sessionId=139, itemInSession=1),
            event(ts=1541106106796, sessionId=140, itemInSession=7, userId="9", level="paid"),  # same ts
            event(ts=1541106106797, sessionId=139, itemInSession=2),
            # not a play: its ts is no start_time
            event(ts=1541106200000, sessionId=139, itemInSession=3, page="Home", artist=None, song=None, length=None),
        ],
    )
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", None, None, 139, 1, PHOENIX, AGENT),
        (at("2018-11-01 21:01:46.797"), 8, "free", None, None, 139, 2, PHOENIX, AGENT),
        (at("2018-11-01 21:01:46.796"), 9, "paid", None, None, 140, 7, PHOENIX, AGENT),
    ]
    assert times(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 21, 1, 44, 11, 2018, 4),
        (at("2018-11-01 21:01:46.797"), 21, 1, 44, 11, 2018, 4),
    ]
    assert warehouse.query("SELECT COUNT(*), COUNT(DISTINCT songplay_id) FROM songplay_table") == [(3, 3)]


# ---------------------------------------------------------------------------
# songplay_table: one row per distinct NextSong event
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other, second_play",
    [
        ({"sessionId": 140}, (START, 8, "free", None, None, 140, 1, PHOENIX, AGENT)),
        ({"itemInSession": 2}, (START, 8, "free", None, None, 139, 2, PHOENIX, AGENT)),
        ({"ts": 1541106106797}, (at("2018-11-01 21:01:46.797"), 8, "free", None, None, 139, 1, PHOENIX, AGENT)),
    ],
    ids=["other-session", "other-item", "other-ts"],
)
def test_events_differing_in_session_item_or_ts_are_two_plays(warehouse, tmp_path, other, second_play):
    load(warehouse, tmp_path, events=[event(), event(**other)])
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 1, PHOENIX, AGENT), second_play]


def test_songplay_has_only_nextsong_events(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[
            event(itemInSession=1, page="Home", artist=None, song=None, length=None, method="GET"),
            event(itemInSession=2),
            event(itemInSession=3, page="Logout", artist=None, song=None, length=None),
            event(itemInSession=4, page="nextsong"),  # the page name is case-sensitive
        ],
    )
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 2, PHOENIX, AGENT)]


@pytest.mark.parametrize(
    "user_id, play_user_id, user_rows",
    [
        ("39", 39, [(39, "Kaylee", "Summers", "F", "free")]),
        (39, 39, [(39, "Kaylee", "Summers", "F", "free")]),  # a JSON number is fine too
        ("", None, []),  # logged out: a play without a user
    ],
)
def test_songplay_user_id_is_integer_value_of_userId_or_null_when_empty(
    warehouse, tmp_path, user_id, play_user_id, user_rows
):
    load(warehouse, tmp_path, events=[event(userId=user_id)])
    assert plays(warehouse) == [(START, play_user_id, "free", None, None, 139, 1, PHOENIX, AGENT)]
    assert users(warehouse) == user_rows


def test_logged_out_events_create_no_user(warehouse, tmp_path):
    logged_out = {"auth": "Logged Out", "firstName": None, "lastName": None, "gender": None, "userId": ""}
    load(
        warehouse,
        tmp_path,
        events=[
            event(itemInSession=0, page="Home", artist=None, song=None, length=None, **logged_out),
            event(itemInSession=1, page="Login", artist=None, song=None, length=None, **logged_out),
            event(itemInSession=2),
        ],
    )
    assert users(warehouse) == [(8, "Kaylee", "Summers", "F", "free")]
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 2, PHOENIX, AGENT)]


@pytest.mark.parametrize(
    "nulls",
    [
        {"artist": None, "song": None, "length": None},
        {"length": None},  # song and artist match the catalogue, but no length to compare
        {"artist": None},
        {"song": None},
    ],
    ids=["artist-song-length", "length", "artist", "song"],
)
def test_play_with_null_artist_song_or_length_is_kept_unmatched(warehouse, tmp_path, nulls):
    load(warehouse, tmp_path, events=[event(**nulls)], songs=[song(song_id="SO1", artist_id="AR1")])
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 1, PHOENIX, AGENT)]


def test_songplay_level_location_agent_come_from_the_event_itself(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[
            event(itemInSession=1, ts=1541106106796, level="free", location="Reno, NV", userAgent="A"),
            event(itemInSession=2, ts=1541106206796, level="paid", location="Elko, NV", userAgent="B"),
        ],
    )
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", None, None, 139, 1, "Reno, NV", "A"),
        (at("2018-11-01 21:03:26.796"), 8, "paid", None, None, 139, 2, "Elko, NV", "B"),
    ]


# ---------------------------------------------------------------------------
# Duplicated deliveries: staged twice, counted once
# ---------------------------------------------------------------------------

FIRST = event(itemInSession=1, ts=1541106106796)
SECOND = event(itemInSession=2, ts=1541106206796, song="Sehr kosmisch", artist="Harmonia", length=655.77751)
THIRD = event(itemInSession=3, ts=1541106306796)


def lines(*events):
    return "".join(json.dumps(item) + "\n" for item in events)


@pytest.mark.parametrize(
    "log_files",
    [
        # a re-sent file: the same file twice under two names
        {
            "2018-11-01-events.json": lines(FIRST, SECOND, THIRD),
            "2018-11-01-events-resent.json": lines(FIRST, SECOND, THIRD),
        },
        # files that each repeat a line of another
        {
            "2018-11-01-events.json": lines(FIRST, SECOND),
            "2018-11-02-events.json": lines(SECOND, THIRD),
            "2018-11-03-events.json": lines(THIRD, FIRST),
        },
        # the same line twice in one file
        {"2018-11-01-events.json": lines(FIRST, SECOND, FIRST, THIRD, SECOND, THIRD)},
    ],
    ids=["same-file-twice", "overlapping-files", "repeated-lines"],
)
def test_event_delivered_twice_is_staged_twice_and_played_once(warehouse, tmp_path, log_files):
    catalogue = [
        song(song_id="SO1", artist_id="AR1"),
        song(song_id="SO1", artist_id="AR1"),  # a song file delivered twice, too
        song(song_id="SO2", artist_id="AR2", title="Sehr kosmisch", artist_name="Harmonia", duration=655.77751),
    ]
    load(warehouse, tmp_path, log_files=log_files, songs=catalogue)
    assert warehouse.table("staging_events", "session_id, item_in_session, ts", "2, 3") == [
        (139, 1, 1541106106796),
        (139, 1, 1541106106796),
        (139, 2, 1541106206796),
        (139, 2, 1541106206796),
        (139, 3, 1541106306796),
        (139, 3, 1541106306796),
    ]
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", "SO1", "AR1", 139, 1, PHOENIX, AGENT),
        (at("2018-11-01 21:03:26.796"), 8, "free", "SO2", "AR2", 139, 2, PHOENIX, AGENT),
        (at("2018-11-01 21:05:06.796"), 8, "free", "SO1", "AR1", 139, 3, PHOENIX, AGENT),
    ]
    assert times(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 21, 1, 44, 11, 2018, 4),
        (at("2018-11-01 21:03:26.796"), 21, 1, 44, 11, 2018, 4),
        (at("2018-11-01 21:05:06.796"), 21, 1, 44, 11, 2018, 4),
    ]
    assert users(warehouse) == [(8, "Kaylee", "Summers", "F", "free")]
    assert warehouse.count("staging_songs") == 3
    assert songs(warehouse) == [
        ("SO1", "You Gotta Be", "AR1", 1994, 246.30812),
        ("SO2", "Sehr kosmisch", "AR2", 1994, 655.77751),
    ]


# ---------------------------------------------------------------------------
# Matching a play to the catalogue
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "catalogue, song_id, artist_id",
    [
        ([song(song_id="SOB", artist_id="AR1"), song(song_id="SOA", artist_id="AR2")], "SOA", "AR2"),
        # the smallest song_id wins even when another candidate's duration is closer
        (
            [song(song_id="SOB", artist_id="AR1"), song(song_id="SOA", artist_id="AR2", duration=246.31312)],
            "SOA",
            "AR2",
        ),
        (
            [
                song(song_id="SOC", artist_id="AR3"),
                song(song_id="SOA", artist_id="AR1"),
                song(song_id="SOB", artist_id="AR2"),
            ],
            "SOA",
            "AR1",
        ),
        # code-point order: "B" (U+0042) sorts before "a" (U+0061)
        ([song(song_id="SOa", artist_id="AR1"), song(song_id="SOB", artist_id="AR2")], "SOB", "AR2"),
        # the same smallest song_id with different artist_ids: the smallest artist_id
        (
            [
                song(song_id="SO2", artist_id="AR0"),
                song(song_id="SO1", artist_id="AR3"),
                song(song_id="SO1", artist_id="AR2"),
            ],
            "SO1",
            "AR2",
        ),
    ],
    ids=["two", "closer-duration-loses", "three", "code-point", "shared-song-id"],
)
def test_play_matches_catalogue_song_with_smallest_song_id_once(warehouse, tmp_path, catalogue, song_id, artist_id):
    load(warehouse, tmp_path, events=[event()], songs=catalogue)
    assert plays(warehouse) == [(START, 8, "free", song_id, artist_id, 139, 1, PHOENIX, AGENT)]


@pytest.mark.parametrize(
    "duration, length, matched",
    [
        (200.0, 200.0, True),
        (200.0, 200.009, True),
        (200.009, 200.0, True),
        (200.0, 199.991, True),
        (100.0, 100.01, False),  # exactly 0.01 apart (and so in binary too): not less than 0.01
        (200.0, 200.011, False),
        (200.011, 200.0, False),
        (200.0, 199.989, False),
    ],
)
def test_play_matches_only_duration_less_than_a_hundredth_away(warehouse, tmp_path, duration, length, matched):
    load(
        warehouse,
        tmp_path,
        events=[event(length=length)],
        songs=[song(song_id="SO1", artist_id="AR1", duration=duration)],
    )
    song_id, artist_id = ("SO1", "AR1") if matched else (None, None)
    assert plays(warehouse) == [(START, 8, "free", song_id, artist_id, 139, 1, PHOENIX, AGENT)]


@pytest.mark.parametrize("duration, length", [(246.30812, 246.31812), (200.0, 200.01)])
def test_play_does_not_match_duration_exactly_a_hundredth_away(warehouse, tmp_path, duration, length):
    load(
        warehouse,
        tmp_path,
        events=[event(length=length)],
        songs=[song(song_id="SO1", artist_id="AR1", duration=duration)],
    )
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 1, PHOENIX, AGENT)]


@pytest.mark.parametrize(
    "title, artist_name, matched",
    [
        ("You Gotta Be", "Des'ree", True),
        ("you gotta be", "Des'ree", False),
        ("YOU GOTTA BE", "Des'ree", False),
        ("You Gotta Be", "des'ree", False),
        ("You Gotta Be ", "Des'ree", False),  # trailing space
        ("You Gotta Be", " Des'ree", False),
        ("You  Gotta Be", "Des'ree", False),
        ("You Gotta Be", "Des’ree", False),  # typographic apostrophe
    ],
)
def test_play_matches_title_and_artist_name_exactly_case_sensitive(warehouse, tmp_path, title, artist_name, matched):
    load(
        warehouse,
        tmp_path,
        events=[event(song="You Gotta Be", artist="Des'ree")],
        songs=[song(song_id="SO1", artist_id="AR1", title=title, artist_name=artist_name)],
    )
    song_id, artist_id = ("SO1", "AR1") if matched else (None, None)
    assert plays(warehouse) == [(START, 8, "free", song_id, artist_id, 139, 1, PHOENIX, AGENT)]


def test_play_matches_unicode_title_exactly_not_by_normalisation(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[
            event(itemInSession=1, song="Caf\u00e9", artist="Zo\u00eb"),  # precomposed é, ë
            event(itemInSession=2, song="Cafe\u0301", artist="Zoe\u0308"),  # e + combining accent
        ],
        songs=[song(song_id="SO1", artist_id="AR1", title="Caf\u00e9", artist_name="Zo\u00eb", duration=246.30812)],
    )
    assert plays(warehouse) == [
        (START, 8, "free", "SO1", "AR1", 139, 1, PHOENIX, AGENT),
        (START, 8, "free", None, None, 139, 2, PHOENIX, AGENT),
    ]


def test_many_plays_of_one_song_each_match_once(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[event(itemInSession=item, ts=1541106106796 + item) for item in (1, 2, 3)],
        songs=[song(song_id="SO2", artist_id="AR1"), song(song_id="SO1", artist_id="AR1")],
    )
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.797"), 8, "free", "SO1", "AR1", 139, 1, PHOENIX, AGENT),
        (at("2018-11-01 21:01:46.798"), 8, "free", "SO1", "AR1", 139, 2, PHOENIX, AGENT),
        (at("2018-11-01 21:01:46.799"), 8, "free", "SO1", "AR1", 139, 3, PHOENIX, AGENT),
    ]


# ---------------------------------------------------------------------------
# user_table: the latest event wins (any page)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "events, user_row",
    [
        pytest.param(
            [
                event(ts=1541106106797, sessionId=1, itemInSession=0, level="paid", firstName="New"),
                event(ts=1541106106796, sessionId=9, itemInSession=9, level="free", firstName="Old"),
            ],
            (8, "New", "Summers", "F", "paid"),
            id="greatest-ts",
        ),
        pytest.param(
            [
                event(ts=1541106106796, sessionId=3, itemInSession=0, level="paid", lastName="New"),
                event(ts=1541106106796, sessionId=2, itemInSession=9, level="free", lastName="Old"),
            ],
            (8, "Kaylee", "New", "F", "paid"),
            id="same-ts-greatest-session",
        ),
        pytest.param(
            [
                event(ts=1541106106796, sessionId=3, itemInSession=2, level="free", gender="M"),
                event(ts=1541106106796, sessionId=3, itemInSession=1, level="paid", gender="F"),
            ],
            (8, "Kaylee", "Summers", "M", "free"),
            id="same-ts-and-session-greatest-item",
        ),
        pytest.param(
            [
                event(ts=1541106106796, sessionId=None, itemInSession=5, level="paid", page="Home",
                      artist=None, song=None, length=None),
                event(ts=1541106106796, sessionId=3, itemInSession=1, level="free"),
            ],
            (8, "Kaylee", "Summers", "F", "free"),
            id="null-session-sorts-lowest",
        ),
        pytest.param(
            [
                event(ts=1541106106796, itemInSession=1, level="free"),
                event(ts=1541106106800, itemInSession=2, level="paid", page="Submit Upgrade", method="PUT",
                      artist=None, song=None, length=None, status=307),
            ],
            (8, "Kaylee", "Summers", "F", "paid"),
            id="latest-event-is-not-a-play",
        ),
    ],
)
def test_user_attributes_and_level_are_from_latest_event(warehouse, tmp_path, events, user_row):
    load(warehouse, tmp_path, events=events)
    assert users(warehouse) == [user_row]


def test_user_level_is_current_while_plays_keep_their_level(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        events=[
            event(ts=1541106106796, itemInSession=1, level="free"),
            event(ts=1541106206796, itemInSession=2, level="paid", page="Submit Upgrade",
                  artist=None, song=None, length=None),
            event(ts=1541106306796, itemInSession=3, level="paid"),
        ],
    )
    assert users(warehouse) == [(8, "Kaylee", "Summers", "F", "paid")]
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", None, None, 139, 1, PHOENIX, AGENT),
        (at("2018-11-01 21:05:06.796"), 8, "paid", None, None, 139, 3, PHOENIX, AGENT),
    ]


# ---------------------------------------------------------------------------
# song_table
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("year, song_year", [(0, None), (1994, 1994)])
def test_song_year_zero_is_null(warehouse, tmp_path, year, song_year):
    load(warehouse, tmp_path, songs=[song(song_id="SO1", artist_id="AR1", year=year)])
    assert songs(warehouse) == [("SO1", "You Gotta Be", "AR1", song_year, 246.30812)]


@pytest.mark.parametrize(
    "records, song_row",
    [
        pytest.param(
            [("b", "AR1", 100.0, 2001), ("A", "AR2", 200.0, 2002)],
            ("SO1", "A", "AR2", 2002, 200.0),
            id="smallest-title",
        ),
        pytest.param(
            [("apple", "AR1", 100.0, 2001), ("Zebra", "AR2", 200.0, 2002)],
            ("SO1", "Zebra", "AR2", 2002, 200.0),
            id="title-code-point-order",
        ),
        pytest.param(
            [("A", "AR2", 100.0, 2001), ("A", "AR1", 200.0, 2002)],
            ("SO1", "A", "AR1", 2002, 200.0),
            id="then-smallest-artist-id",
        ),
        pytest.param(
            [("A", "AR1", 300.0, 2001), ("A", "AR1", 200.0, 0)],
            ("SO1", "A", "AR1", None, 200.0),
            id="then-smallest-duration",
        ),
        pytest.param(
            [("A", "AR1", 100.0, 2001), (None, "AR2", 200.0, 2002)],
            ("SO1", None, "AR2", 2002, 200.0),
            id="null-title-sorts-lowest",
        ),
    ],
)
def test_song_attributes_are_from_first_record_by_title_artist_id_duration(warehouse, tmp_path, records, song_row):
    catalogue = [
        song(song_id="SO1", title=title, artist_id=artist_id, duration=duration, year=year)
        for title, artist_id, duration, year in records
    ]
    load(warehouse, tmp_path, songs=catalogue)
    assert songs(warehouse) == [song_row]


# ---------------------------------------------------------------------------
# artist_table
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, name",
    [
        (["Des'ree feat. Babyface", "Des'ree"], "Des'ree"),
        (["abc", "Zed"], "Zed"),  # same length: code point order, uppercase first
        (["zoe", "\u00c9va"], "zoe"),  # "É" (U+00C9) sorts after "z" (U+007A)
        (["Zed", "abc", "\u00c9mi"], "Zed"),
        (["Emilie", "\u00c9mile"], "\u00c9mile"),  # 5 characters (6 bytes) beat 6 characters
        ([None, "Bob"], "Bob"),  # a missing name is no name
    ],
)
def test_artist_name_is_shortest_then_first_in_code_point_order(warehouse, tmp_path, names, name):
    catalogue = [
        song(song_id=f"SO{number}", artist_id="AR1", artist_name=artist_name, artist_location="",
             artist_latitude=None, artist_longitude=None)
        for number, artist_name in enumerate(names)
    ]
    load(warehouse, tmp_path, songs=catalogue)
    assert artists(warehouse) == [("AR1", name, None, None, None)]


@pytest.mark.parametrize(
    "records, location",
    [
        ([("SO2", "Memphis, TN"), ("SO1", "")], "Memphis, TN"),
        ([("SO2", "B"), ("SO1", None), ("SO3", "C")], "B"),
        ([("SO3", "C"), ("SO1", "A"), ("SO2", "B")], "A"),  # not the first in file order
        ([("SOa", "lower"), ("SOB", "upper")], "upper"),  # song_id in code-point order
        ([("SO1", ""), ("SO2", None)], None),
    ],
)
def test_artist_location_is_non_empty_location_of_smallest_song_id(warehouse, tmp_path, records, location):
    catalogue = [
        song(song_id=song_id, artist_id="AR1", artist_location=artist_location,
             artist_latitude=None, artist_longitude=None)
        for song_id, artist_location in records
    ]
    load(warehouse, tmp_path, songs=catalogue)
    assert artists(warehouse) == [("AR1", "Des'ree", location, None, None)]


@pytest.mark.parametrize(
    "records, coordinates",
    [
        ([("SO1", 1.5, None), ("SO2", 2.5, 3.5)], (2.5, 3.5)),  # only a latitude: skipped
        ([("SO1", None, 1.5), ("SO3", 4.5, 5.5), ("SO2", 2.5, 3.5)], (2.5, 3.5)),
        ([("SO3", 4.5, 5.5), ("SO2", 2.5, 3.5)], (2.5, 3.5)),
        ([("SO2", 9.0, 9.0), ("SO1", 0.0, 0.0)], (0.0, 0.0)),  # zero is a coordinate
        ([("SO1", 1.5, None), ("SO2", None, 2.5)], (None, None)),  # never mixed from two records
    ],
)
def test_artist_coordinates_are_from_smallest_song_id_having_both(warehouse, tmp_path, records, coordinates):
    catalogue = [
        song(song_id=song_id, artist_id="AR1", artist_location="", artist_latitude=latitude,
             artist_longitude=longitude)
        for song_id, latitude, longitude in records
    ]
    load(warehouse, tmp_path, songs=catalogue)
    assert artists(warehouse) == [("AR1", "Des'ree", None, *coordinates)]


def test_artist_attributes_are_chosen_each_on_its_own(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        songs=[
            song(song_id="SO1", artist_id="AR1", artist_name="Des'ree feat. X", artist_location="",
                 artist_latitude=1.0, artist_longitude=None),
            song(song_id="SO2", artist_id="AR1", artist_name="Des'ree & Y", artist_location="London",
                 artist_latitude=None, artist_longitude=None),
            song(song_id="SO3", artist_id="AR1", artist_name="Des'ree", artist_location="Paris",
                 artist_latitude=51.5, artist_longitude=-0.12),
            song(song_id="SO4", artist_id="AR2", artist_name="Harmonia", artist_location="Forst",
                 artist_latitude=51.7, artist_longitude=9.5),
        ],
    )
    assert artists(warehouse) == [
        ("AR1", "Des'ree", "London", 51.5, -0.12),
        ("AR2", "Harmonia", "Forst", 51.7, 9.5),
    ]


# ---------------------------------------------------------------------------
# Unicode
# ---------------------------------------------------------------------------

TITLE = "Caf\u00e9 \u6771\u4eac \U0001f3b5"  # Café 東京 🎵
ARTIST = "Bj\u00f6rk & \u5742\u672c\u9f8d\u4e00"  # Björk & 坂本龍一
PLACE = "S\u00e3o Paulo \U0001f1e7\U0001f1f7"  # São Paulo 🇧🇷
FIRST_NAME = "Zo\u00eb"
LAST_NAME = "\u0141\u00f3d\u017a \U0001f600"  # Łódź 😀


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["u-escapes", "raw-utf8"])
def test_unicode_text_round_trips_exactly(warehouse, tmp_path, ensure_ascii):
    play = event(song=TITLE, artist=ARTIST, location=PLACE, firstName=FIRST_NAME, lastName=LAST_NAME,
                 userAgent=TITLE)
    record = song(song_id="SO1", artist_id="AR1", title=TITLE, artist_name=ARTIST, artist_location=PLACE)
    play_text = json.dumps(play, ensure_ascii=ensure_ascii)
    song_text = json.dumps(record, ensure_ascii=ensure_ascii)
    assert play_text.isascii() == ensure_ascii  # "\ud83c\udfb5": emoji escaped as surrogate pairs
    load(warehouse, tmp_path, log_files={"2018-11-01-events.json": play_text + "\n"}, songs=[song_text])
    assert warehouse.table("staging_events", "artist, song, first_name, last_name, location, user_agent") == [
        (ARTIST, TITLE, FIRST_NAME, LAST_NAME, PLACE, TITLE)
    ]
    assert warehouse.table("staging_songs", "artist_name, title, artist_location") == [(ARTIST, TITLE, PLACE)]
    assert plays(warehouse) == [(START, 8, "free", "SO1", "AR1", 139, 1, PLACE, TITLE)]
    assert users(warehouse) == [(8, FIRST_NAME, LAST_NAME, "F", "free")]
    assert songs(warehouse) == [("SO1", TITLE, "AR1", 1994, 246.30812)]
    assert artists(warehouse) == [("AR1", ARTIST, PLACE, 35.14968, -90.04892)]


# ---------------------------------------------------------------------------
# File layouts
# ---------------------------------------------------------------------------

A = event(itemInSession=1, ts=1541106106796)
B = event(itemInSession=2, ts=1541106206796)
C = event(itemInSession=3, ts=1541106306796)
a, b, c = (json.dumps(item) for item in (A, B, C))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"{a}\n{b}\n{c}\n", id="one-per-line"),
        pytest.param(f"{a} {b}\n{c}\n", id="several-on-one-line"),
        pytest.param(f"{a}{b}{c}", id="no-space-between-objects"),
        pytest.param(f"\n\n  {a}\t\r\n\r\n   {b}\n\t\n{c}  \n\n", id="any-whitespace"),
        pytest.param(f"{a}\r\n{b}\r\n{c}\r\n", id="crlf"),
        pytest.param("\n".join(json.dumps(item, indent=2) for item in (A, B, C)) + "\n", id="spread-over-lines"),
        pytest.param(f"{a} {json.dumps(B, indent=4)} {c}\n", id="spread-from-mid-line"),
        pytest.param(f"{a}\n{b}\n{c}", id="no-final-newline"),
    ],
)
def test_log_file_layouts_stage_every_object(warehouse, tmp_path, text):
    load(warehouse, tmp_path, log_files={"2018-11-01-events.json": text})
    assert warehouse.table("staging_events", "session_id, item_in_session, ts, song", "2") == [
        (139, 1, 1541106106796, "You Gotta Be"),
        (139, 2, 1541106206796, "You Gotta Be"),
        (139, 3, 1541106306796, "You Gotta Be"),
    ]
    assert plays(warehouse) == [
        (at("2018-11-01 21:01:46.796"), 8, "free", None, None, 139, 1, PHOENIX, AGENT),
        (at("2018-11-01 21:03:26.796"), 8, "free", None, None, 139, 2, PHOENIX, AGENT),
        (at("2018-11-01 21:05:06.796"), 8, "free", None, None, 139, 3, PHOENIX, AGENT),
    ]


S1 = song(song_id="SO1", artist_id="AR1", title="One")
S2 = song(song_id="SO2", artist_id="AR1", title="Two")
S3 = song(song_id="SO3", artist_id="AR1", title="Three")
s1, s2, s3 = (json.dumps(item) for item in (S1, S2, S3))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"{s1}\n{s2}\n{s3}\n", id="one-per-line"),
        pytest.param(f"{s1} {s2} {s3}", id="one-line"),
        pytest.param("\n\n".join(json.dumps(item, indent=4) for item in (S1, S2, S3)), id="spread-over-lines"),
    ],
)
def test_song_file_with_several_objects_stages_each(warehouse, tmp_path, text):
    load(warehouse, tmp_path, songs=[text])
    assert songs(warehouse) == [
        ("SO1", "One", "AR1", 1994, 246.30812),
        ("SO2", "Two", "AR1", 1994, 246.30812),
        ("SO3", "Three", "AR1", 1994, 246.30812),
    ]


def test_empty_files_are_sources_of_no_records(warehouse, tmp_path):
    load(
        warehouse,
        tmp_path,
        log_files={
            "2018-11-01-events.json": "",
            "2018-11-02-events.json": json.dumps(A) + "\n",
            "2018-11-03-events.json": "\n  \r\n\t\n",
        },
        songs=["", json.dumps(S1), "\n\n"],
    )
    assert warehouse.table("staging_events", "session_id, item_in_session, ts") == [(139, 1, 1541106106796)]
    assert warehouse.table("staging_songs", "song_id, title") == [("SO1", "One")]
    assert plays(warehouse) == [(START, 8, "free", None, None, 139, 1, PHOENIX, AGENT)]
    assert songs(warehouse) == [("SO1", "One", "AR1", 1994, 246.30812)]


def test_only_empty_files_give_an_empty_warehouse(warehouse, tmp_path):
    load(warehouse, tmp_path, log_files={"2018-11-01-events.json": b""}, songs=[""])
    assert [warehouse.count(name) for name in ("staging_events", "staging_songs", "songplay_table",
                                               "user_table", "song_table", "artist_table", "time_table")] == [
        0, 0, 0, 0, 0, 0, 0,
    ]
