"""Redshift as its documentation describes it, for the tests that cannot reach a real one.

- ``FakeRedshift``: a fake psycopg2 connection for run(), which records every
  statement sent and answers as Redshift would (test_redshift_path.py,
  test_incremental_redshift.py).
- ``RedshiftTextPostgres``: the PostgreSQL engine made to compare text as
  Redshift compares VARCHARs, so that the whole transform runs on the
  embedded server with Redshift's semantics (test_trailing_blanks.py).
- ``BlockedRedshift`` and ``RedshiftSessions``: a run whose LOCK waits for
  another session, and the system views that say who that session is
  (test_lock_waits.py).

Each rule modelled here cites the page of AWS's documentation it comes from.
"""

import datetime
import re
import sqlite3
import threading
import time
import types

import psycopg2
import psycopg2.errors

import sql_queries as q
from sparkify import config
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.engines import redshift
from sparkify.engines.postgres import PostgresEngine
from sparkify.run import ledger

ROLE = "arn:aws:iam::123456789012:role/dwhRole"
CHANGE_CHECK_QUERIES = {statement for _, statement in check_sql.change_checks.values()}
COUNTED_QUERIES = {expected for expected, _ in check_sql.COUNTED.values()}


def redshift_config(**values):
    """The settings of a config for the Udacity bucket ([CLUSTER] HOST, [IAM_ROLE], [S3]); ``values``
    (SECTION__KEY=value) override keys or add them."""
    sections = {
        "CLUSTER": {"HOST": "sparkify.abc123xyz456.us-west-2.redshift.amazonaws.com"},
        "IAM_ROLE": {"ARN": ROLE},
        "S3": {
            "LOG_DATA": "s3://udacity-dend/log_data",
            "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json",
            "SONG_DATA": "s3://udacity-dend/song_data",
            "REGION": "us-west-2",
        },
    }
    for key, value in values.items():
        section, name = key.split("__")
        sections.setdefault(section, {})[name] = value
    return config.parse(sections)


def write_config(path, settings):
    """A config file that reads back as ``settings``: every key that has a value."""
    sections = {}
    for section, key in config.KEYS:
        value = config.value_of(settings, section, key)
        if value is None:
            continue
        if isinstance(value, config.Secret):
            value = value.reveal()
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        sections.setdefault(section, []).append(f"{key}={value}")
    path.write_text("".join(f"[{section}]\n" + "\n".join(lines) + "\n\n" for section, lines in sections.items()))
    path.chmod(0o600)
    return str(path)


def sys_load_error_row(file_name, line, column, message, code=1207, raw_value="", raw_line=""):
    """A row as sys_load_error_detail holds it: CHAR columns padded with blanks."""
    return {
        "file_name": file_name.ljust(256),
        "line_number": line,
        "column_name": column.ljust(127),
        "error_message": message.ljust(512),
        "error_code": code,
        "raw_field_value": raw_value.ljust(1024),
        "raw_line": raw_line.ljust(1024),
    }


# ---------------------------------------------------------------------------
# A Redshift connection that follows the documentation
# ---------------------------------------------------------------------------

STL_COLUMNS = ["file_name", "line_number", "column_name", "error_message", "error_code", "raw_field_value",
               "raw_line"]
SYS_COLUMNS = STL_COLUMNS[:5]  # sys_load_error_detail keeps no raw text
MAXERROR_LIMIT = 100_000  # "The MAXERROR default value is 0 and the limit is 100000" (copy-parameters-data-load)

# The system views the run reads, as AWS documents their columns (types as SQLite stores them):
# https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html,
# https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html,
# https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_HISTORY.html.
VIEWS = """
CREATE TABLE stl_load_errors (
    userid INTEGER, slice INTEGER, tbl INTEGER, starttime TEXT, session INTEGER, query INTEGER,
    filename TEXT, line_number INTEGER, colname TEXT, type TEXT, col_length TEXT, position INTEGER,
    raw_line TEXT, raw_field_value TEXT, err_code INTEGER, err_reason TEXT
);
CREATE TABLE sys_load_error_detail (
    user_id INTEGER, query_id INTEGER, transaction_id INTEGER, session_id INTEGER, database_name TEXT,
    table_id INTEGER, start_time TEXT, file_name TEXT, line_number INTEGER, column_name TEXT,
    column_type TEXT, column_length TEXT, position INTEGER, error_code INTEGER, error_message TEXT
);
CREATE TABLE sys_load_history (
    user_id INTEGER, query_id INTEGER, transaction_id INTEGER, session_id INTEGER, database_name TEXT,
    status TEXT, table_name TEXT, start_time TEXT, end_time TEXT, duration INTEGER, data_source TEXT,
    file_format TEXT, loaded_rows INTEGER, loaded_bytes INTEGER, source_file_count INTEGER,
    source_file_bytes INTEGER, file_count_scanned INTEGER, file_bytes_scanned INTEGER, error_count INTEGER,
    copy_job_id INTEGER
);
"""
SQLITE_TABLES = ("stl_load_errors", "sys_load_error_detail", "sys_load_history")
SESSION_FUNCTIONS = ("pg_backend_pid()", "pg_last_copy_id()", "pg_last_copy_count()")


class FakeRedshift:
    """Enough of a psycopg2 connection to Redshift for run(), answering as AWS documents Redshift.

    It keeps every statement sent (``sent``), runs COPY as the documentation
    says, and answers the queries of the load-error views and the session's
    functions from an SQLite copy of those views, whatever the SQL asks, not
    a canned answer per statement. What it models, and where AWS says so:

    - **MAXERROR's threshold.** "If the load returns the error_count number of
      errors or greater, the load fails ... Set this value to 0 or 1 if you want
      the load to fail as soon as the first error occurs ... the limit is
      100000": a COPY with MAXERROR m and e bad records fails when
      e >= max(m, 1), and a MAXERROR above 100,000 is refused. "The actual
      number of errors reported might be greater than the specified MAXERROR":
      every bad record's row is recorded, failed or not
      (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html).
    - **The views' rows, not a list's length.** A query is answered by SQL: its
      WHERE, COUNT, GROUP BY, ORDER BY and LIMIT mean what they say, so a
      query that reads at most 1,000 rows gets 1,000 of 2,500.
    - **Process ids are reused.** ``pg_backend_pid()`` is this connection's
      ``pid``; ``earlier_session()`` leaves rows of an older session that had
      the same process id ("The PID is not globally unique. It can be reused
      over time": https://docs.aws.amazon.com/redshift/latest/dg/PG_BACKEND_PID.html).
    - **pg_last_copy_id() and pg_last_copy_count()** move when a COPY loads,
      and not for a COPY whose transaction was rolled back ("If the COPY
      transaction is rolled back, the COPY ID is not updated":
      https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html).
      A COPY that fails aborts the transaction: any statement but ROLLBACK
      then fails.
    - **SYS_LOAD_HISTORY rows arriving or missing.** Each COPY's row arrives
      with the COPY (the view "contains both running and finished COPY
      commands": SYS_LOAD_HISTORY.html), with its table_name, status,
      loaded_rows and error_count; ``history_missing`` names tables whose rows
      never arrive.
    - **A COPY that cannot read S3** (``fail`` without load errors) fails before
      it loads: no load-error row, pg_last_copy_id() unchanged.
    - **MERGE matches on column equalities only.** Its match_condition
      "Specifies equal predicates between the source table column and target
      table column" (https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html):
      a MERGE whose ON is anything but ``target.column = source.column``
      terms joined by AND is refused, and the transaction aborted. The page
      does not quote Redshift's error message; the message here is ours.

    Redshift's comparison of text with trailing blanks is modelled by
    ``RedshiftTextPostgres`` below, on the real transform.

    ``rows``: the good records each COPY loads, per table. ``load_errors``:
    the bad records of each COPY (rows as sys_load_error_row() makes them), of
    the tables in ``errors_for`` (every table when None). ``fail``: a table
    whose COPY fails whatever its records. ``out_of_range``: staged events
    (dicts) whose ts is outside the contract's range, that the events' COPY
    loads.
    """

    def __init__(self, rows=None, fail=None, load_errors=(), errors_for=None, out_of_range=(), host="fake-redshift",
                 pid=40213, history_missing=()):
        self.info = types.SimpleNamespace(host=host, ssl_in_use=True)
        self.rows = rows or {"staging_events": 8056, "staging_songs": 71}
        self.out_of_range = list(out_of_range)
        self.fail = fail
        self.load_errors = list(load_errors)
        self.errors_for = errors_for
        self.pid = pid
        self.history_missing = set(history_missing)
        self.sent = []
        self.autocommit = False
        self.in_transaction = False
        self.aborted = False
        self.copies = 0
        self.query = 100  # the cluster's query ids grow; an earlier session's are below
        self.xid = 5000
        self.last_copy = (-1, 0)  # pg_last_copy_id(), pg_last_copy_count() as committed or still open
        self.pending_copy = None
        self.views = self._views()
        self.copy_limit = lambda maxerror: max(maxerror, 1)  # errors at which a COPY fails, as documented
        self.holds_rows = False  # whether staging or the star holds a row (for a warehouse whose ledger is empty)

    def _views(self):
        database = sqlite3.connect(":memory:", isolation_level=None)
        database.executescript(VIEWS)
        columns = ", ".join(q.COLUMNS["staging_events"])  # no type: SQLite compares a ts as the number it is
        for table in ("staging_events", "staging_events_new"):
            database.execute(f"CREATE TABLE {table} ({columns})")
        database.create_function("pg_backend_pid", 0, lambda: self.pid)
        database.create_function("pg_last_copy_id", 0, lambda: self.copy_state()[0])
        database.create_function("pg_last_copy_count", 0, lambda: self.copy_state()[1])
        return database

    def copy_state(self):
        return self.pending_copy or self.last_copy

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.sent.append("COMMIT")
        self.in_transaction = False
        if self.pending_copy is not None:
            self.last_copy = self.pending_copy
        self.pending_copy = None

    def rollback(self):
        self.sent.append("ROLLBACK")
        self.in_transaction = False
        self.aborted = False
        self.pending_copy = None

    def next_query(self):
        self.query += 1
        return self.query

    def record(self, table, query, errors, rows, status, session=None):
        """What Redshift writes for one COPY: a row per rejected record in both load-error views, and the
        COPY's row in SYS_LOAD_HISTORY (unless its table's rows never arrive)."""
        session = self.pid if session is None else session
        for error in errors:
            self.views.execute(
                "INSERT INTO stl_load_errors (session, query, tbl, filename, line_number, colname, err_reason, "
                "err_code, raw_field_value, raw_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session, query, 100 + len(table), error["file_name"], error["line_number"], error["column_name"],
                 error["error_message"][:100].ljust(100), error["error_code"], error["raw_field_value"],
                 error["raw_line"]))
            self.views.execute(
                "INSERT INTO sys_load_error_detail (session_id, query_id, transaction_id, table_id, file_name, "
                "line_number, column_name, error_code, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session, query, self.xid, 100 + len(table), error["file_name"], error["line_number"],
                 error["column_name"], error["error_code"], error["error_message"]))
        if table not in self.history_missing:
            self.views.execute(
                "INSERT INTO sys_load_history (session_id, query_id, transaction_id, status, table_name, "
                "loaded_rows, error_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session, query, self.xid, status, table, rows, len(errors)))

    def earlier_session(self, table="staging_events", errors=(), rows=5):
        """An older session that had this connection's process id left a COPY in the views."""
        self.record(table, self.query - 60, list(errors), rows, "completed")

    def copy(self, statement):
        """COPY, as the documentation says it goes (this class's docstring)."""
        text = " ".join(statement.split())
        table = text.split()[1]
        limit = int(re.search(r"\bMAXERROR (\d+)", text).group(1))
        if limit > MAXERROR_LIMIT:
            raise psycopg2.ProgrammingError(f"MAXERROR argument must be between 0 and {MAXERROR_LIMIT}")
        self.copies += 1
        logical = table.removesuffix("_new")
        errors = [] if self.errors_for is not None and table not in self.errors_for else list(self.load_errors)
        query = self.next_query()
        if table == self.fail and not errors:  # it could not read S3: nothing loaded, nothing recorded
            self.aborted = True
            raise psycopg2.InternalError(f"S3ServiceException:Access Denied. Load into table '{table}' failed.")
        failed = table == self.fail or len(errors) >= self.copy_limit(limit)
        rows = 0 if failed else self.rows[table if table in self.rows else logical]
        self.record(table, query, errors, rows, "aborted" if failed else "completed")
        if failed:
            self.aborted = True
            raise psycopg2.InternalError(
                f"Load into table '{table}' failed. Check 'stl_load_errors' system table for details.")
        self.pending_copy = (query, rows)
        if logical == "staging_events":
            columns = q.COLUMNS["staging_events"]
            for event in self.out_of_range:
                self.views.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                   f"({', '.join('?' for _ in columns)})", [event.get(name) for name in columns])


class FakeCursor:
    def __init__(self, connection):
        self.connection = connection
        self.rowcount = 0
        self.description = None
        self._rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def answered_by_the_views(self, text):
        """A query of the load-error views or the session's functions, or of the staged ts out of range."""
        lowered = text.lower()
        if any(name in lowered for name in SQLITE_TABLES + SESSION_FUNCTIONS):
            return text.startswith("SELECT")
        return redshift.TS_OUT_OF_RANGE in text or text.startswith("DELETE FROM staging_events")

    def execute(self, statement, params=None):
        fake = self.connection
        if fake.aborted:
            raise psycopg2.errors.InFailedSqlTransaction(
                "current transaction is aborted, commands ignored until end of transaction block")
        if not fake.in_transaction and not fake.autocommit:
            fake.sent.append("BEGIN")
            fake.in_transaction = True
        fake.sent.append(statement)
        text = " ".join(statement.split())
        self._rows, self.description, self.rowcount = [], None, 0  # each statement's own, as a real cursor's
        if text.startswith("COPY"):
            fake.copy(statement)
        elif text.startswith("MERGE") and (refused := merge_match_refused(text)):
            fake.aborted = True
            raise psycopg2.errors.FeatureNotSupported(refused)
        elif self.answered_by_the_views(text):
            cursor = fake.views.execute(text)
            self.description = cursor.description
            self._rows = [tuple(row) for row in cursor.fetchall()]
            self.rowcount = cursor.rowcount
        elif statement == ledger.loaded_files_select or statement == ledger.ledger_sources:
            self._rows = []
        elif statement == ledger.holds_rows:
            self._rows = [(int(fake.holds_rows),)]
        elif statement == check_sql.star_counts:
            self._rows = [(0,) * len(q.star_tables)]
        elif statement in CHANGE_CHECK_QUERIES:
            self._rows = [(0,)]  # no new key, as the star counts say
        elif statement in COUNTED_QUERIES:
            self._rows = [(0,)]  # no key staged, as the rows the INSERTs wrote (rowcount 0) say
        elif text.startswith("SELECT"):
            self._rows = [(1, 1)]

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self):
        return list(self._rows)


_MERGE = re.compile(r"MERGE INTO (\w+) USING (\w+)(?: (?:AS )?(\w+))? ON (.+?) WHEN ", re.IGNORECASE)
_COLUMN_EQUALITY = re.compile(r"(\w+)\.\w+ = (\w+)\.\w+")


def merge_match_refused(text) -> str | None:
    """Why Redshift's documentation does not allow the match condition of the MERGE ``text`` (one line),
    or None: each ANDed term must be an equality of a target column and a source column (r_MERGE.html)."""
    target, source, alias, condition = _MERGE.match(text).groups()
    sides = {target.lower(), (alias or source).lower()}
    for term in re.split(r"\s+AND\s+", condition, flags=re.IGNORECASE):
        equality = _COLUMN_EQUALITY.fullmatch(term.strip().strip("()"))
        if not equality or {name.lower() for name in equality.groups()} != sides:
            return f"MERGE's match condition must be equal predicates between source and target columns: {term!r}"
    return None


def statements_of(plan):
    return [statement for statement in plan if not statement.startswith("--")]


def comparable(statements):
    """Statements with the ledger's rows left out of its INSERTs: a run counts the rows each COPY staged and
    stamps the time, where a dry run can know neither."""
    return [re.sub(r"\nVALUES\n.*", "\nVALUES ...", statement, flags=re.S)
            if statement.startswith("INSERT INTO loaded_files") else statement for statement in statements]


# ---------------------------------------------------------------------------
# Redshift's comparison of VARCHARs, on PostgreSQL
# ---------------------------------------------------------------------------

_VARCHAR_C = re.compile(r'\bVARCHAR\(\d+\) COLLATE "C"')
_TABLE_KEY = re.compile(r",\n\s*(?:PRIMARY KEY|UNIQUE)\s*\([^)]*\)")
_REFERENCES = re.compile(r"\s+REFERENCES \w+ \(\w+\)")
_LENGTH = re.compile(r"\bLENGTH\(([\w.]+)\)")


class RedshiftTextPostgres(PostgresEngine):
    """The PostgreSQL engine with every VARCHAR column compared as Redshift compares it.

    Redshift ignores trailing blanks when it compares VARCHARs: "the trailing
    blanks in the second inserted address are semantically insignificant ...
    these two inserted addresses match", while "the LENGTH function recognizes
    trailing blanks in VARCHAR columns"
    (https://docs.aws.amazon.com/redshift/latest/dg/r_Examples_with_character_types.html,
    https://docs.aws.amazon.com/redshift/latest/dg/r_LEN.html). PostgreSQL's
    ``bpchar`` (CHAR without a length) compares the same way, in =, <>, ORDER
    BY, DISTINCT, GROUP BY, PARTITION BY, EXCEPT, IN and joins, and its
    OCTET_LENGTH counts the blanks as Redshift's does; so the tables are
    created with ``bpchar COLLATE "C"`` where the project writes VARCHAR(n).
    Two differences of bpchar are rendered away:

    - its LENGTH does not count trailing blanks: ``LENGTH(x)`` becomes LENGTH
      plus x's trailing blanks, as Redshift counts;
    - it would enforce a declared key as blank-insensitive, refusing ``'X '``
      beside ``'X'``: Redshift does not enforce declared keys at all
      (https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html),
      so they are left out, and the checks count them as they do on Redshift.
    """

    def render(self, statement):
        statement = _VARCHAR_C.sub('bpchar COLLATE "C"', super().render(statement))
        statement = _TABLE_KEY.sub("", statement)
        statement = _REFERENCES.sub("", statement)
        return _LENGTH.sub(r"(LENGTH(\1) + OCTET_LENGTH(\1) - OCTET_LENGTH(RTRIM(\1)))", statement)


# ---------------------------------------------------------------------------
# Lock waits: a run whose LOCK waits, and the views that say who holds it
# ---------------------------------------------------------------------------


class QueryCanceled(psycopg2.errors.QueryCanceled):
    """What psycopg2 raises when the server cancels a statement (SQLSTATE 57014)."""

    pgcode = "57014"


class BlockedRedshift(FakeRedshift):
    """A FakeRedshift on which the run's ``LOCK staging_events`` waits, as Redshift's LOCK waits for a
    conflicting lock (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html), until the other session
    lets go (``release()``) or the statement is cancelled (``cancel()``, psycopg2's PQcancel)."""

    def __init__(self, pid=4100, **options):
        super().__init__(**options)
        self.info.backend_pid = pid
        self.cancelled = threading.Event()
        self.released = threading.Event()

    def cursor(self):
        return BlockedCursor(self)

    def cancel(self):
        self.cancelled.set()

    def release(self):
        self.released.set()


class BlockedCursor(FakeCursor):
    def execute(self, statement, params=None):
        if " ".join(statement.split()) == redshift.LOCK:
            deadline = time.monotonic() + 30
            while not self.connection.released.is_set():
                if self.connection.cancelled.wait(0.02):
                    self.connection.cancelled.clear()
                    raise QueryCanceled("ERROR:  Query (4711) cancelled on user's request")
                assert time.monotonic() < deadline, "nothing ended the LOCK's wait"
        return super().execute(statement, params)


# The views' columns, as AWS documents them (SVV_TRANSACTIONS, PG_LOCKS as PostgreSQL 8.0 has it,
# SYS_QUERY_HISTORY, SYS_CONNECTION_LOG), and PG_CLASS's two that the queries read.
LOCK_VIEWS = {
    "svv_transactions": ["txn_owner", "txn_db", "xid", "pid", "txn_start", "lock_mode", "lockable_object_type",
                         "relation", "granted"],
    "pg_locks": ["relation", "database", "transaction", "pid", "mode", "granted"],
    "pg_class": ["oid", "relname"],
    "sys_query_history": ["user_id", "query_id", "transaction_id", "session_id", "status", "start_time", "end_time",
                          "query_text"],
    "sys_connection_log": ["event", "record_time", "remote_host", "session_id", "user_name", "application_name"],
}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$")


class RedshiftSessions:
    """The lock watch's own connection: the statements run on the views' rows in SQLite.

    ``views``: view -> rows (dicts). A row's ``owner`` is the user it belongs
    to: as the views' pages say, a superuser sees every row and a regular
    user only its own, except PG_LOCKS, which shows every session's locks, and
    SYS_CONNECTION_LOG, which only a superuser sees at all.
    """

    def __init__(self, views, user="etl", superuser=True):
        self.autocommit = False
        self.closed = False
        self.sent = []
        self.database = sqlite3.connect(":memory:", check_same_thread=False)
        for view, columns in LOCK_VIEWS.items():
            quoted = ", ".join(f'"{column}"' for column in columns)  # pg_locks has a column named transaction
            self.database.execute(f"CREATE TABLE {view} ({quoted})")
            for row in views.get(view, ()):
                owner = row.get("owner")
                visible = superuser or view in ("pg_locks", "pg_class") or (
                    view != "sys_connection_log" and owner in (None, user))
                if visible:
                    self.database.execute(f"INSERT INTO {view} VALUES ({', '.join('?' * len(columns))})",
                                          [row.get(column) for column in columns])

    def cursor(self):
        return SessionsCursor(self)

    def close(self):
        self.closed = True


class SessionsCursor(FakeCursor):
    """A cursor of RedshiftSessions: every query is answered by the views' rows."""

    def close(self):
        pass

    def execute(self, statement, params=None):
        assert params is None, "the Redshift engine inlines every value"
        self.connection.sent.append(statement)
        if statement.startswith("SET "):
            self._rows = []
            return
        rows = self.connection.database.execute(statement).fetchall()
        self._rows = [tuple(datetime.datetime.fromisoformat(value) if isinstance(value, str)
                            and _TIMESTAMP.match(value) else value for value in row) for row in rows]
