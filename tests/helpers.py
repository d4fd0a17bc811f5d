"""What the tests share: records and source folders written by hand, a warehouse to load and read, the scripts.

Test modules import these from here (``from helpers import event, write_source``);
the fixtures that hand them out live in conftest.py. A test module never
imports conftest or another test module.
"""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg2

from sparkify import api
from sparkify.api import create_tables
from sql_queries import column_list

PROJECT_DIR = Path(__file__).resolve().parent.parent
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


# ---------------------------------------------------------------------------
# A schema with the project's tables, and ways to load and read it
# ---------------------------------------------------------------------------


class Warehouse:
    """A schema with the project's tables in it, and ways to load and read it."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.connection = psycopg2.connect(dsn)

    def create(self):
        """Empty tables, whatever they held (as create_tables.py --drop-data)."""
        create_tables(self.connection, "postgres", drop_data=True)

    def load(self, source, max_errors=0):
        """Run the whole ETL on ``source``, whatever source the warehouse held; returns api.run()'s result.

        As with --full --replace-source --allow-empty: the sources the tests
        write by hand often hold only the events or only the songs a rule
        needs (the guard against a source without records is tried in
        test_bad_input.py, the guard against another source in test_intent.py).
        """
        return api.run(self.connection, "postgres", source, max_errors=max_errors, allow_empty=True,
                       replace_source=True)

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
                "songplay_table", column_list("songplay_table"), "session_id, item_in_session, start_time",
            ),
            "user_table": self.table("user_table"),
            "song_table": self.table("song_table"),
            "artist_table": self.table("artist_table"),
            "time_table": self.table("time_table"),
        }
        star["staging_events"] = self.table("staging_events", order_by="ts, session_id, item_in_session")
        star["staging_songs"] = self.table("staging_songs", order_by="song_id, title")
        return star


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


# ---------------------------------------------------------------------------
# The docs' SQL, as a person copies it
# ---------------------------------------------------------------------------

IAM_GUIDE = PROJECT_DIR / "docs" / "iam-authentication.md"
GUIDE_IDENTITY = '"IAMR:etl-role"'  # the IAM identity the guide's SQL names


def guide_sql(heading, identity, schema, admin="awsuser"):
    """The statements of the SQL block after ``heading`` in the IAM guide, for ``identity`` (a database
    user's name), ``schema`` in place of public and ``admin`` in place of awsuser."""
    text = IAM_GUIDE.read_text(encoding="utf-8")
    block = re.search(r"```sql\n(.*?)```", text[text.index(heading):], re.DOTALL).group(1)
    block = re.sub(r"\bpublic\b", schema, block.replace(GUIDE_IDENTITY, f'"{identity}"')).replace("awsuser", admin)
    return [statement.strip() for statement in block.split(";") if statement.strip()]


# ---------------------------------------------------------------------------
# The scripts, as a person runs them
# ---------------------------------------------------------------------------


def run_script(*args):
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )


def run_main(main, argv, stdout=None, stderr=None):
    """(exit status, standard output, standard error) of a script's ``main(argv)``, run in this process;
    ``stdout`` and ``stderr``: the streams it writes to (a StringIO each by default)."""
    out, err = stdout or io.StringIO(), stderr or io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------
# Daily runs against one full load
# ---------------------------------------------------------------------------


def full_load_of(warehouse, folder):
    """Every row of one full load of ``folder``; the warehouse is emptied again after."""
    warehouse.create()
    warehouse.load(folder)
    expected = warehouse.snapshot()
    warehouse.create()
    return expected


def daily_run(warehouse, folder, **options):
    return api.run(warehouse.connection, "postgres", folder, full=False, **{"allow_empty": True, **options})


def assert_equals_a_full_load(warehouse, folder):
    """Every star and staging table holds exactly the rows of one full load of ``folder``."""
    actual = warehouse.snapshot()
    expected = full_load_of(warehouse, folder)
    for table in expected:
        assert actual[table] == expected[table], f"{table} differs from a full load"


def checks_of(result):
    return {check.name: check for check in result.checks}


# ---------------------------------------------------------------------------
# cluster.py under moto (tests/test_cluster.py, tests/test_serverless.py)
# ---------------------------------------------------------------------------


PASSWORD = "Sparkify2018ok"
MY_CIDR = "203.0.113.7/32"
