"""Shared fixtures: a PostgreSQL, a clean schema per test module, source folders.

The tests run against the embedded PostgreSQL, started once per session in a
temporary folder, or against ``DWH_DSN`` when it is set. Each test module gets
a schema of its own, created fresh, so modules cannot see each other's tables.
"""

import json
import os
import re
import sys
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import etl  # noqa: E402
from create_tables import create_tables  # noqa: E402
from sparkify.engines import embedded as local_postgres  # noqa: E402
from sparkify.engines.embedded import fresh_schema  # noqa: E402
from sparkify.engines.local_loader import staging as staging_loader  # noqa: E402

UDACITY_SAMPLE = PROJECT_DIR.parent / "shared" / "data" / "udacity-sample"
BUNDLED_SAMPLE = PROJECT_DIR / "data" / "sample"

JSONPATHS = {
    "jsonpaths": [
        f"$['{key}']"
        for key in (
            "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length",
            "level", "location", "method", "page", "registration", "sessionId", "song",
            "status", "ts", "userAgent", "userId",
        )
    ]
}


@pytest.fixture(scope="session")
def dsn(tmp_path_factory):
    """A PostgreSQL to test on: $DWH_DSN, or an embedded server of the session's own."""
    if os.environ.get("DWH_DSN"):
        return os.environ["DWH_DSN"]
    pgdata = tmp_path_factory.mktemp("embedded") / "pgdata"
    return local_postgres.start(pgdata)


class Warehouse:
    """A schema with the project's tables in it, and ways to load and read it."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.connection = psycopg2.connect(dsn)

    def create(self):
        create_tables(self.connection, "postgres")

    def load(self, source, max_errors=0):
        """Run the whole ETL on ``source``; returns etl.run()'s result.

        As with --allow-empty: the sources the tests write by hand often hold
        only the events or only the songs a rule needs (the guard against a
        source without records is tried in test_bad_input.py).
        """
        return etl.run(self.connection, "postgres", source, max_errors=max_errors, allow_empty=True)

    def query(self, sql, params=None):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        self.connection.rollback()
        return rows

    def count(self, table):
        return self.query(f"SELECT COUNT(*) FROM {table}")[0][0]

    def table(self, name, columns="*", order_by="1"):
        return self.query(f"SELECT {columns} FROM {name} ORDER BY {order_by}")

    def snapshot(self):
        """Every row of every star and staging table, songplay_id left out."""
        star = {
            "songplay_table": self.table(
                "songplay_table",
                "start_time, user_id, level, song_id, artist_id, session_id, item_in_session, location, user_agent",
                "session_id, item_in_session, start_time",
            ),
            "user_table": self.table("user_table"),
            "song_table": self.table("song_table"),
            "artist_table": self.table("artist_table"),
            "time_table": self.table("time_table"),
        }
        star["staging_events"] = self.table("staging_events", order_by="ts, session_id, item_in_session")
        star["staging_songs"] = self.table("staging_songs", order_by="song_id, title")
        return star


@pytest.fixture(scope="module")
def warehouse(dsn, request):
    """A fresh schema for this test module, with the tables created."""
    schema = "test_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])
    warehouse = Warehouse(fresh_schema(dsn, schema))
    warehouse.create()
    yield warehouse
    warehouse.connection.close()


# ---------------------------------------------------------------------------
# Source folders written by hand
# ---------------------------------------------------------------------------


def event(**overrides):
    """A valid NextSong event as the app logs it; override any key."""
    record = {
        "artist": "Des'ree",
        "auth": "Logged In",
        "firstName": "Kaylee",
        "gender": "F",
        "itemInSession": 1,
        "lastName": "Summers",
        "length": 246.30812,
        "level": "free",
        "location": "Phoenix-Mesa-Scottsdale, AZ",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1540344794796.0,
        "sessionId": 139,
        "song": "You Gotta Be",
        "status": 200,
        "ts": 1541106106796,
        "userAgent": '"Mozilla/5.0 (Windows NT 6.1; WOW64)"',
        "userId": "8",
    }
    record.update(overrides)
    return record


def song(**overrides):
    """A valid song record as the catalogue files hold it; override any key."""
    record = {
        "num_songs": 1,
        "artist_id": "ARMJAGH1187FB546F3",
        "artist_latitude": 35.14968,
        "artist_longitude": -90.04892,
        "artist_location": "Memphis, TN",
        "artist_name": "Des'ree",
        "song_id": "SOUPIRU12A6D4FA1E1",
        "title": "You Gotta Be",
        "duration": 246.30812,
        "year": 1994,
    }
    record.update(overrides)
    return record


def write_source(folder, events=(), songs=(), jsonpaths=JSONPATHS, log_files=None):
    """A source folder in the real layout.

    ``events`` go into one daily file, one JSON object per line (a str is
    written as it is, for malformed input); ``log_files`` maps a file name to
    its exact text or bytes instead. Each song goes into a file of its own.
    """
    folder = Path(folder)
    log_dir = folder / "log_data" / "2018" / "11"
    log_dir.mkdir(parents=True, exist_ok=True)
    if log_files is None:
        lines = [item if isinstance(item, str) else json.dumps(item) for item in events]
        log_files = {"2018-11-01-events.json": "\n".join(lines) + ("\n" if lines else "")}
    for name, content in log_files.items():
        path = log_dir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    song_dir = folder / "song_data" / "A" / "B" / "C"
    song_dir.mkdir(parents=True, exist_ok=True)
    for number, item in enumerate(songs):
        text = item if isinstance(item, str) else json.dumps(item)
        (song_dir / f"TRABC{number:013d}.json").write_text(text, encoding="utf-8")
    if jsonpaths is not None:
        text = jsonpaths if isinstance(jsonpaths, str) else json.dumps(jsonpaths, indent=4)
        (folder / "log_json_path.json").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(params=["whole files", "cut into tasks", "worker processes"])
def staging_mode(request, monkeypatch):
    """How the loader splits its work: the result must not depend on it."""
    if request.param != "whole files":
        monkeypatch.setattr(staging_loader, "SMALL_FILE_BYTES", 0)  # every file is cut into ranges
        monkeypatch.setattr(staging_loader, "TASK_BYTES", 97)  # a few lines each, cut anywhere
    if request.param == "worker processes":
        monkeypatch.setattr(staging_loader, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(staging_loader, "default_workers", lambda: 2)
    return request.param
