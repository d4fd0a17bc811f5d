"""Redshift as its documentation describes it, for the tests that cannot reach a real one.

- ``FakeRedshift``: a fake psycopg2 connection for run(), which records every
  statement sent and answers as Redshift would (test_redshift_path.py,
  test_incremental_redshift.py).
- ``RedshiftTextPostgres``: the PostgreSQL engine made to compare text as
  Redshift compares VARCHARs, so that the whole transform runs on the
  embedded server with Redshift's semantics (test_trailing_blanks.py).

Each rule modelled here cites the page of AWS's documentation it comes from.
"""

import re
import types

import psycopg2

import sql_queries as q
from sparkify import config
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.engines import redshift
from sparkify.engines.postgres import PostgresEngine
from sparkify.engines.redshift import COPY_RESULT
from sparkify.run import ledger

ROLE = "arn:aws:iam::123456789012:role/dwhRole"
CHANGE_CHECK_QUERIES = {statement for _, statement in check_sql.change_checks.values()}


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


STL_COLUMNS = ["file_name", "line_number", "column_name", "error_message", "error_code", "raw_field_value",
               "raw_line"]
SYS_COLUMNS = STL_COLUMNS[:5]  # sys_load_error_detail keeps no raw text


class FakeRedshift:
    """Enough of a psycopg2 connection to Redshift for run(): it keeps the statements sent.

    ``rows`` is what each COPY loads; ``fail`` names a table whose COPY fails;
    ``load_errors`` are the rows Redshift records for each COPY (of the tables
    in ``errors_for``, every table when None), under the COPY's query id, in
    STL_LOAD_ERRORS (a cluster) and in SYS_LOAD_HISTORY / SYS_LOAD_ERROR_DETAIL.
    As the PG_LAST_COPY_ID page says, pg_last_copy_id() is not updated when the
    COPY's transaction is rolled back, which a failed COPY's always is.
    """

    def __init__(self, rows=None, fail=None, load_errors=(), errors_for=None, out_of_range=(), host="fake-redshift"):
        self.info = types.SimpleNamespace(host=host, ssl_in_use=True)
        self.rows = rows or {"staging_events": 8056, "staging_songs": 71}
        self.out_of_range = list(out_of_range)  # staged events (dicts) whose ts is outside the contract's range
        self.fail = fail
        self.load_errors = list(load_errors)
        self.errors_for = errors_for
        self.sent = []
        self.autocommit = False
        self.in_transaction = False
        self.copies = 0
        self.last_copy_table = None
        self.last_copy_id = -1  # pg_last_copy_id(): the COPY ids of committed-or-open transactions only
        self.pending_copy_id = None
        self.recorded = {}  # COPY query id -> the load-error rows Redshift keeps for it (they outlive a rollback)

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.sent.append("COMMIT")
        self.in_transaction = False

    def rollback(self):
        self.sent.append("ROLLBACK")
        self.in_transaction = False
        self.pending_copy_id = None

    def copy_id(self):
        return self.last_copy_id if self.pending_copy_id is None else self.pending_copy_id

    def newest_after(self, after):
        later = [query for query in self.recorded if query > after]
        return max(later) if later else None


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

    def answer_load_errors(self, text, columns, newest):
        fake = self.connection
        after = re.search(r"query(?:_id)? > (-?\d+)", text)
        query = fake.newest_after(int(after.group(1))) if after else newest
        excluded = re.search(r"query <> (-?\d+)", text)
        if excluded and query == int(excluded.group(1)):
            query = None
        self.description = [(name,) for name in columns]
        self._rows = [tuple(row[name] for name in columns) for row in fake.recorded.get(query, [])]

    def execute(self, statement, params=None):
        fake = self.connection
        if not fake.in_transaction and not fake.autocommit:
            fake.sent.append("BEGIN")
            fake.in_transaction = True
        fake.sent.append(statement)
        text = " ".join(statement.split())
        self._rows, self.description = [], None
        if text.startswith("COPY"):
            table = text.split()[1]
            fake.copies += 1
            fake.last_copy_table = table
            query = 100 + fake.copies
            fake.recorded[query] = [] if fake.errors_for is not None and table not in fake.errors_for \
                else list(fake.load_errors)
            if table == fake.fail:
                fake.pending_copy_id = query  # gone with the rollback
                raise psycopg2.InternalError(
                    f"Load into table '{table}' failed. Check 'stl_load_errors' system table for details."
                )
            fake.last_copy_id = query
        elif text == " ".join(COPY_RESULT.split()):
            self._rows = [(fake.copy_id(), fake.rows[fake.last_copy_table])]
        elif text.startswith("SELECT query_id, loaded_rows FROM sys_load_history"):
            self._rows = [(max(fake.recorded), fake.rows[fake.last_copy_table])]
        elif text.startswith("SELECT COUNT(*) FROM") and redshift.TS_OUT_OF_RANGE in text:
            self._rows = [(len(fake.out_of_range),)]
        elif text.startswith("SELECT artist,") and redshift.TS_OUT_OF_RANGE in text:
            self._rows = [tuple(row.get(name) for name in q.COLUMNS["staging_events"]) for row in fake.out_of_range]
        elif "FROM stl_load_errors" in text:
            self.answer_load_errors(text, STL_COLUMNS, fake.copy_id())
        elif "FROM sys_load_error_detail" in text:
            self.answer_load_errors(text, SYS_COLUMNS, max(fake.recorded, default=None))
        elif statement == ledger.loaded_files_select:
            self._rows = []
        elif statement == check_sql.star_counts:
            self._rows = [(0,) * len(q.star_tables)]
        elif statement in CHANGE_CHECK_QUERIES:
            self._rows = [(0,)]  # no new key, as the star counts say
        elif text.startswith("SELECT"):
            self._rows = [(1, 1)]

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self):
        return list(self._rows)


def statements_of(plan):
    return [statement for statement in plan if not statement.startswith("--")]


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

    def table_statements(self, create_table):
        return [self.render(create_table)]
