"""A daily run's checks of its change (reconciliation.py): exact on the tricky cases, and what they cannot see.

Each test builds a small hand-written source, loads it, delivers new files
(under new names, so the ledger sees them as new, not changed), runs a daily
run, and looks at the change checks and at a full reload of the same folder.
"""

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import assert_equals_a_full_load, checks_of, daily_run, event, song, write_source

from sparkify import api
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.engines import PostgresEngine
from sparkify.output.report import Reporter
from sparkify.output.summary import summary
from sparkify.results import CheckFailed
from sparkify.run import daily_load_sql as daily_sql

DAY = 86_400_000
T1 = 1541059200000  # 2018-11-01 08:00:00 UTC


def add_log(folder, name, events):
    path = Path(folder) / "log_data" / "2018" / "11" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item) + "\n" for item in events), encoding="utf-8")


def add_song(folder, name, record):
    path = Path(folder) / "song_data" / "A" / "B" / "C" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")


def expected_and_actual(result):
    return {name: (check.expected, check.actual) for name, check in checks_of(result).items()
            if name in check_sql.change_checks}


def whole_checks_failing(warehouse):
    checks, _ = api.check(warehouse.connection, PostgresEngine(), Reporter(quiet=True))
    result = SimpleNamespace(checks=checks)
    return [check.name for check in result.checks if not check.passed]


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "source"


# ---------------------------------------------------------------------------
# The scenarios of the brief: each daily run must commit (checks pass) and
# equal a full reload.
# ---------------------------------------------------------------------------


def test_redelivered_new_events_null_identity_parts_logged_out_and_first_time_users(warehouse, folder):
    warehouse.create()
    write_source(folder, songs=[song()], events=[
        event(ts=T1, sessionId=100, itemInSession=0, userId="8"),
        event(ts=T1 + 1000, sessionId=200, itemInSession=0, userId=""),
        event(ts=T1 + 2000, sessionId=300, itemInSession=0, userId="9", page="Home"),
    ])
    assert daily_run(warehouse, folder).committed
    day2 = [
        event(ts=T1 + DAY, sessionId=100, itemInSession=1, userId="8", level="paid"),
        event(ts=T1 + DAY + 1000, sessionId=None, itemInSession=3, userId="10", firstName="New"),
        event(ts=T1 + DAY + 2000, sessionId=201, itemInSession=None, userId=""),
        event(ts=T1 + DAY + 3000, sessionId=None, itemInSession=None, userId="12"),
        event(ts=T1 + DAY + 4000, sessionId=400, itemInSession=0, userId="11", page="Home"),
    ]
    add_log(folder, "2018-11-02-events.json", day2)
    add_log(folder, "2018-11-02-events-resent.json", day2[:4])  # the same run gets them twice
    result = daily_run(warehouse, folder)
    assert result.committed
    assert expected_and_actual(result) == {
        check_sql.NEW_PLAYS_CHECK: (4, 4),
        "users added = new staged user ids": (3, 3),  # 10, 12, 11
        "songs added = new staged song ids": (0, 0),
        "artists added = new staged artist ids": (0, 0),
        "time rows added = new play start times": (4, 4),
    }
    assert result.figures.duplicate_events == 4
    # a later run re-sends the NULL-identity plays alongside one new play
    add_log(folder, "2018-11-03-events.json", day2[1:4] + [event(ts=T1 + 2 * DAY, sessionId=None,
                                                                itemInSession=None, userId="12")])
    result = daily_run(warehouse, folder)
    assert expected_and_actual(result)[check_sql.NEW_PLAYS_CHECK] == (1, 1)
    assert expected_and_actual(result)["time rows added = new play start times"] == (1, 1)
    assert_equals_a_full_load(warehouse, folder)


def test_backfill_of_older_days_with_since_and_until(warehouse, folder):
    warehouse.create()
    write_source(folder, songs=[song()], log_files={
        "2018-11-01-events.json": json.dumps(event(ts=T1, userId="8", level="free", sessionId=1)) + "\n",
    })
    add_log(folder, "2018-11-05-events.json", [event(ts=T1 + 4 * DAY, userId="8", level="paid", sessionId=5),
                                               event(ts=T1 + 4 * DAY + 5, userId="20", sessionId=5)])
    add_log(folder, "2018-11-03-events.json", [event(ts=T1 + 2 * DAY, userId="8", level="free", sessionId=3),
                                               event(ts=T1 + 4 * DAY + 5, userId="20", sessionId=5),
                                               event(ts=T1 + 2 * DAY + 7, userId="21", sessionId=3)])
    assert daily_run(warehouse, folder, since=date(2018, 11, 5)).committed  # full: the ledger is empty
    result = daily_run(warehouse, folder, until=date(2018, 11, 3))  # two older days, one play re-sent
    assert result.committed and not result.choice.full
    assert expected_and_actual(result)[check_sql.NEW_PLAYS_CHECK] == (3, 3)
    assert expected_and_actual(result)["users added = new staged user ids"] == (1, 1)
    assert warehouse.query("SELECT level FROM user_table WHERE user_id = 8") == [("paid",)]
    assert_equals_a_full_load(warehouse, folder)


def test_late_song_files_null_keys_known_artist_new_artist_and_one_song_id_twice(warehouse, folder):
    warehouse.create()
    plays = [
        event(ts=T1, sessionId=1, itemInSession=0),  # matches the catalogue's one song
        event(ts=T1 + 1, sessionId=1, itemInSession=1, song="Late", artist="Newcomer", length=200.0),
        event(ts=T1 + 2, sessionId=1, itemInSession=2, song="Nameless", artist="Des'ree", length=100.0),
    ]
    write_source(folder, songs=[song()], events=plays)
    assert daily_run(warehouse, folder).committed
    add_song(folder, "TRLATE1.json", song(song_id="SOLATE", artist_id="ARNEW", artist_name="Newcomer",
                                          title="Late", duration=200.0, artist_location=""))
    add_song(folder, "TRLATE2.json", song(song_id="SOLATE", artist_id="ARNEW", artist_name="Newcomer",
                                          title="Late", duration=200.004, artist_location="Oslo"))
    add_song(folder, "TRNOID.json", song(song_id=None, artist_id="ARMJAGH1187FB546F3", artist_name="Des'ree",
                                         title="Nameless", duration=100.0, artist_location="Earlier"))
    add_song(folder, "TRNOART.json", song(song_id="SONOART", artist_id=None, title="Nameless",
                                          artist_name="Des'ree", duration=100.0))
    add_song(folder, "TRKNOWN.json", song(song_id="SOKNOWN", artist_name="Des'ree feat. X", title="Other"))
    add_log(folder, "2018-11-02-events.json", [event(ts=T1 + DAY, sessionId=2, song="Late", artist="Newcomer",
                                                     length=200.0)])
    result = daily_run(warehouse, folder)
    assert result.committed
    assert expected_and_actual(result) == {
        check_sql.NEW_PLAYS_CHECK: (1, 1),
        "users added = new staged user ids": (0, 0),
        "songs added = new staged song ids": (3, 3),  # SOLATE (twice), SONOART, SOKNOWN
        "artists added = new staged artist ids": (1, 1),  # ARNEW; the NULL-song_id record's artist is known
        "time rows added = new play start times": (1, 1),
    }
    matched = warehouse.query("SELECT item_in_session, song_id, artist_id FROM songplay_table "
                              "WHERE session_id = 1 ORDER BY 2")
    assert matched == [(1, "SOLATE", "ARNEW"), (2, "SONOART", None), (0, "SOUPIRU12A6D4FA1E1", "ARMJAGH1187FB546F3")]
    assert_equals_a_full_load(warehouse, folder)


# ---------------------------------------------------------------------------
# A key changed by hand, the count unchanged: the whole checks, which count,
# pass; the next daily run that stages that key again fails, since its new
# keys are counted against staging, not against the star.
# ---------------------------------------------------------------------------


def _two_users_one_without_plays(warehouse, folder):
    warehouse.create()
    write_source(folder, songs=[song(), song(song_id="SOB", title="B", artist_name="B")], events=[
        event(ts=T1, sessionId=1, userId="8"),
        event(ts=T1 + 1, sessionId=1, itemInSession=2, userId="50", page="Home"),
    ])
    assert daily_run(warehouse, folder).committed


def test_a_user_id_changed_by_hand_fails_the_next_daily_run_that_stages_it(warehouse, folder):
    _two_users_one_without_plays(warehouse, folder)
    with warehouse.connection.cursor() as cursor:  # the same number of users, one id wrong
        cursor.execute("UPDATE user_table SET user_id = 999 WHERE user_id = 50")
    warehouse.connection.commit()
    assert whole_checks_failing(warehouse) == []  # counts cannot see it
    add_log(folder, "2018-11-02-events.json", [event(ts=T1 + DAY, sessionId=2, userId="50")])
    with pytest.raises(CheckFailed) as failure:
        daily_run(warehouse, folder)
    failed = [(c.name, c.expected, c.actual) for c in failure.value.result.checks if not c.passed]
    assert failed == [("users added = new staged user ids", 0, 1)]


def test_a_song_id_changed_by_hand_fails_the_next_daily_run_that_stages_it(warehouse, folder):
    _two_users_one_without_plays(warehouse, folder)
    with warehouse.connection.cursor() as cursor:  # SOB has no play: the FK does not stop this
        cursor.execute("UPDATE song_table SET song_id = 'SOZ' WHERE song_id = 'SOB'")
    warehouse.connection.commit()
    assert whole_checks_failing(warehouse) == []
    add_song(folder, "TRAGAIN.json", song(song_id="SOB", title="B", artist_name="B"))
    with pytest.raises(CheckFailed) as failure:
        daily_run(warehouse, folder)
    failed = [(c.name, c.expected, c.actual) for c in failure.value.result.checks if not c.passed]
    assert failed == [("songs added = new staged song ids", 0, 1)]


# ---------------------------------------------------------------------------
# What counts cannot see: a play matched wrongly passes every check, whole or
# of the change. The row-for-row comparisons with a full load
# (test_incremental.py) are what hold the statements to the contents.
# ---------------------------------------------------------------------------


def test_counts_do_not_see_a_wrong_rematch_and_a_full_load_comparison_does(warehouse, folder, monkeypatch):
    warehouse.create()
    write_source(folder, songs=[song()], events=[
        event(ts=T1, sessionId=1, song="Late", artist="Newcomer", length=200.0),
    ])
    assert daily_run(warehouse, folder).committed
    add_song(folder, "TRLATE.json", song(song_id="SOLATE", artist_id="ARNEW", artist_name="Newcomer",
                                         title="Late", duration=200.0))
    broken = daily_sql.affected_plays_create.split("UNION")[0]  # only the new events: late songs match nothing old
    steps = [(table, broken if statement == daily_sql.affected_plays_create else statement)
             for table, statement in daily_sql.incremental_star_queries]
    monkeypatch.setattr(daily_sql, "incremental_star_queries", steps)
    result = daily_run(warehouse, folder)
    assert result.committed and all(check.passed for check in result.checks)
    assert whole_checks_failing(warehouse) == []
    assert warehouse.query("SELECT song_id FROM songplay_table") == [(None,)]  # a full load matches SOLATE
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="songplay_table differs from a full load"):
        assert_equals_a_full_load(warehouse, folder)


# ---------------------------------------------------------------------------
# The summary's daily figure
# ---------------------------------------------------------------------------


def test_a_resent_day_replaces_its_plays_and_adds_none(warehouse, folder):
    warehouse.create()
    day = [event(ts=T1 + n, sessionId=1, itemInSession=n) for n in range(3)]
    write_source(folder, songs=[song()], events=day)
    assert daily_run(warehouse, folder).committed
    add_log(folder, "2018-11-01-events-resent.json", day)
    result = daily_run(warehouse, folder)
    assert expected_and_actual(result)[check_sql.NEW_PLAYS_CHECK] == (0, 0)
    steps = {step.name: step.rows for step in result.steps}
    assert (steps["songplay_table: plays replaced"], steps["songplay_table: plays added"]) == (3, 0)
    assert "plays this run wrote (added or replaced): 3, 3 of them matched" in summary(result)
