"""What Redshift knows about the records a COPY turned down, told as the local loader tells it.

A failed COPY says only "Load into table 'staging_events' failed. Check
'stl_load_errors' system table for details." The details are in Redshift's
load-error views, one row per rejected record: the file, the line, the column
and the reason. This module finds the rows of one COPY of this run, counts
them, and turns them into the loader's ``RejectedRecord``, so that a bad
record reads the same on both engines:

    staging_events: s3://bucket/log_data/2018/11/2018-11-01-events.json:2, column session_id:
    Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)

Two flavours, one per deployment (chosen once, by the engine: redshift.py):

- **A provisioned cluster: STL_LOAD_ERRORS.** The SYS views exist on
  provisioned clusters too ("Unless noted otherwise, these views are
  available for Amazon Redshift clusters and Amazon Redshift Serverless
  workgroups", https://docs.aws.amazon.com/redshift/latest/dg/serverless_views-monitoring.html),
  but SYS_LOAD_ERROR_DETAIL has no raw_line or raw_field_value: STL keeps the
  text of the bad record, which the report shows and rejected_records keeps,
  so a cluster reads STL
  (https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html).
  STL views keep seven days of history
  (https://docs.aws.amazon.com/redshift/latest/dg/c_intro_STL_tables.html).
- **Serverless: SYS_LOAD_ERROR_DETAIL** (there are no STL views), with the
  COPY found in SYS_LOAD_HISTORY, which has a row for each COPY, running or
  finished, with its table_name, loaded_rows and error_count
  (https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html,
  https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_HISTORY.html).
  STL's ``query`` and SYS's ``query_id`` are different identifiers, so
  pg_last_copy_id() is not used there at all.

**Which COPY: this run's, never another session's.** A load-error row names
its session by the process id of the server process (``pg_backend_pid()``),
and "the PID is not globally unique. It can be reused over time"
(https://docs.aws.amazon.com/redshift/latest/dg/PG_BACKEND_PID.html): an
older session with the same process id left its rows in the same views. So
every lookup is bounded by this run. Before its first COPY, the run reads the
newest query id its process id already has in the view (``before_run``):
every row of an older session, or of an earlier run on this connection, is
at or below it, and any row of this process id above it is this run's, as no
other live session has the same process id. Each COPY's rows are then those
above the previous COPY of the run:

- after a COPY that succeeded, on a cluster, ``query = pg_last_copy_id()``,
  this session's own function, which must have moved past the previous COPY;
  on Serverless, the SYS_LOAD_HISTORY row of this process id, above the
  previous COPY, for this COPY's table. No such row is an error, never an
  unknown count: a run that cannot tell what COPY loaded stops;
- after a COPY that failed: not pg_last_copy_id(), which "is not updated" when
  "the COPY transaction is rolled back"
  (https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html), as a
  failed COPY's must be before anything can be asked; the newest query of this
  process id above the previous COPY of the run, which is the failed one.

**How many: counted, not the length of a list.** The rows of one COPY are
counted in the view (``COUNT(*)``, per file for the ledger), and read a page
of ``KEPT`` at a time: the first page stays with the run, to show; the others
go to rejected_records as they are read, so memory stays bounded whatever
their number, and rejected_records holds every one, as on PostgreSQL.

File names: both views hold the file name in a CHAR(256). An S3 URL longer
than that is cut, and would not match the ledger's names; ``full_names()``
maps a cut name back to the one file COPY read that it begins (the
manifest's entries), or says that it was cut.
"""

from sparkify.engines.errors import DatabaseError
from sparkify.results import LoadError, RejectedRecord, too_many_rejected
from sql_queries import column_list

SHOWN = 10  # rejected records written out in an error message
KEPT = 1000  # rejected records read from Redshift at a time, and kept with the run at most
FILE_NAME_CHARS = 256  # STL_LOAD_ERRORS.filename and SYS_LOAD_ERROR_DETAIL.file_name: CHAR(256)
CUT = " (name cut to 256 characters by Redshift)"


class Views:
    """Where one flavour keeps its load errors: ``view``, naming the session, the query and the file
    in the columns named here."""

    view = session_column = query_column = file_column = ""
    loads_view = ""  # where every COPY of a session leaves a row: its load errors', or SYS_LOAD_HISTORY

    @property
    def before_run(self) -> str:
        """The newest query this process id has in the views before the run: rows at or below it are
        an older session's (a reused process id) or an earlier run's."""
        return f"""
SELECT COALESCE(MAX({self.query_column}), -1)
FROM {self.loads_view}
WHERE {self.session_column} = pg_backend_pid()
"""

    def newest_after(self, after) -> str:
        """The id of this process id's newest COPY with load errors above ``after``: a failed COPY's."""
        return f"""
SELECT MAX({self.query_column})
FROM {self.view}
WHERE {self.session_column} = pg_backend_pid() AND {self.query_column} > {int(after)}
"""

    def of_query(self, query) -> str:
        """The rows of the COPY whose query id is ``query``."""
        return f"{self.query_column} = {int(query)}"


class ClusterViews(Views):
    """A provisioned cluster: STL_LOAD_ERRORS, with the raw text of the record."""

    name = "provisioned"
    view, session_column, query_column, file_column = "stl_load_errors", "session", "query", "filename"
    loads_view = "stl_load_errors"  # a COPY without load errors has no row: none that can be mistaken for it
    recorded_in = "pg_last_copy_id() (still at the run's previous COPY)"
    errors = """
SELECT
    TRIM(filename) AS file_name,
    line_number,
    TRIM(colname) AS column_name,
    TRIM(err_reason) AS error_message,
    err_code AS error_code,
    TRIM(raw_field_value) AS raw_field_value,
    TRIM(raw_line) AS raw_line
FROM stl_load_errors
WHERE {which}
ORDER BY file_name, line_number, column_name
LIMIT {limit} OFFSET {offset}
"""

    def copy_result(self, table, after) -> str:
        """(this COPY's id, the rows it loaded), right after a COPY that succeeded: this session's
        own functions (PG_LAST_COPY_COUNT: https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html)."""
        return "SELECT pg_last_copy_id(), pg_last_copy_count()"

    def this_copy(self, table, after) -> str:
        """The rows of the COPY that just succeeded."""
        return "query = pg_last_copy_id()"


class ServerlessViews(Views):
    """Serverless: SYS_LOAD_HISTORY finds this run's COPY, SYS_LOAD_ERROR_DETAIL its records."""

    name = "serverless"
    view, session_column, query_column, file_column = "sys_load_error_detail", "session_id", "query_id", "file_name"
    loads_view = "sys_load_history"
    recorded_in = "sys_load_history (no row of this session for that table after the run's previous COPY)"
    errors = """
SELECT
    TRIM(file_name) AS file_name,
    line_number,
    TRIM(column_name) AS column_name,
    TRIM(error_message) AS error_message,
    error_code
FROM sys_load_error_detail
WHERE {which}
ORDER BY file_name, line_number, column_name
LIMIT {limit} OFFSET {offset}
"""

    def copy_result(self, table, after) -> str:
        """(the COPY's query_id, the rows it loaded): this process id's SYS_LOAD_HISTORY row above
        ``after``, of ``table`` (the sample output of SYS_LOAD_HISTORY names a table bare, as here)."""
        return f"""
SELECT query_id, loaded_rows
FROM sys_load_history
WHERE session_id = pg_backend_pid()
    AND query_id > {int(after)}
    AND TRIM(table_name) = {table_literal(table)}
ORDER BY query_id DESC
LIMIT 1
"""

    def this_copy(self, table, after) -> str:
        return f"""query_id = (
    SELECT MAX(query_id)
    FROM sys_load_history
    WHERE session_id = pg_backend_pid()
        AND query_id > {int(after)}
        AND TRIM(table_name) = {table_literal(table)}
)"""


CLUSTER, SERVERLESS = ClusterViews(), ServerlessViews()


def table_literal(table) -> str:
    """One of the project's tables (staging_events_new, ...) as a string literal: a plain name, which needs
    no quoting; anything else is refused."""
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    return f"'{table}'"


def counts_query(which, views=CLUSTER) -> str:
    """The rejected records of one COPY (``which``), counted per file."""
    return f"""
SELECT TRIM({views.file_column}) AS file_name, COUNT(*)
FROM {views.view}
WHERE {which}
GROUP BY 1
"""


def load_errors_query(which, views=CLUSTER, offset=0) -> str:
    """One page of the rejected records of one COPY (``which``), in file and line order."""
    return views.errors.format(which=which, limit=KEPT, offset=int(offset))


def look_up(which, views=CLUSTER) -> str:
    """What a person runs to read every load error of one COPY (``which`` by its query id)."""
    return f"SELECT * FROM {views.view} WHERE {which}"


def rejected_records(table_name: str, rows) -> list[RejectedRecord]:
    """Rows shaped like sys_load_error_detail (dicts) as the loader's rejected records.

    Redshift pads its CHAR columns with blanks: values are stripped.
    """
    records = []
    for row in rows:
        def text(name, row=row):
            value = row.get(name)
            return str(value).strip() or None if value is not None else None

        reason = text("error_message") or "rejected by COPY"
        if row.get("error_code"):
            reason += f" (error {row['error_code']})"
        records.append(RejectedRecord(
            table_name=table_name,
            source_file=text("file_name") or "(unknown file)",
            line_number=int(row.get("line_number") or 0),
            column_name=text("column_name"),
            reason=reason,
            raw_value=text("raw_field_value"),
            raw_record=text("raw_line") or "",
        ))
    return records


def full_name(name, files=None) -> str:
    """``name`` as a file's full URL: a name cut by Redshift's CHAR(256) becomes the one URL of
    ``files`` (the URLs COPY read: a manifest's entries, when known) that it begins, or says it was cut."""
    files = files or []
    if len(name.encode("utf-8")) < FILE_NAME_CHARS - 1 or name in files:
        return name
    matches = [url for url in files if url.startswith(name)]
    return matches[0] if len(matches) == 1 else name + CUT


def full_names(records, files=None) -> list[RejectedRecord]:
    """``records`` with each file name cut by Redshift's CHAR(256) mapped back to the full URL."""
    for record in records:
        record.source_file = full_name(record.source_file, files)
    return records


def count_errors(cursor, which, views=CLUSTER, files=None) -> dict[str, int]:
    """file -> how many of its records one COPY (``which``) rejected; {} when it rejected none."""
    cursor.execute(counts_query(which, views))
    counts = {}
    for name, count in cursor.fetchall():
        name = full_name((name or "").strip() or "(unknown file)", files)
        counts[name] = counts.get(name, 0) + int(count)
    return counts


def read_errors(cursor, table_name, which, views=CLUSTER, files=None, count=None, keep=None) -> list[RejectedRecord]:
    """The first page of a COPY's rejected records; ``keep(page)`` is given each further page
    (up to ``count``) as it is read, and nothing else of it is held."""
    first, offset = [], 0
    while offset == 0 or (count is not None and offset < count and keep is not None):
        cursor.execute(load_errors_query(which, views, offset))
        names = [column[0] for column in cursor.description or []]
        page = full_names(rejected_records(table_name, [dict(zip(names, row)) for row in cursor.fetchall()]), files)
        if offset == 0:
            first = page
        elif page:
            keep(page)
        if len(page) < KEPT:
            break
        offset += KEPT
    return first


def copy_failed(cursor, table_name: str, error: DatabaseError, previous_copy, max_errors: int,
                views=CLUSTER, files=None) -> LoadError:
    """The LoadError for a COPY that failed: what Redshift said, and the records it rejected.

    The failed COPY aborted the transaction, so it is rolled back first (the
    previous warehouse stays as it was); the load-error views outlive it. The
    failed COPY is this process id's newest above ``previous_copy`` (the last
    COPY of this run that succeeded, or where the run began), not
    pg_last_copy_id(), which the rollback left where it was.
    """
    connection = cursor.connection
    connection.rollback()
    records, count, query = [], 0, None
    try:
        cursor.execute(views.newest_after(previous_copy))
        query = (cursor.fetchone() or (None,))[0]
        if query is not None:
            which = views.of_query(query)
            count = sum(count_errors(cursor, which, views, files).values())
            records = read_errors(cursor, table_name, which, views, files)
    except DatabaseError:
        records, count, query = [], 0, None
    connection.rollback()
    said = " ".join(str(error).split()) or type(error).__name__
    return LoadError(failure_message(table_name, said, records, max_errors, views, query, count), records,
                     max(count, len(records)))


def failure_message(table_name: str, said, records, max_errors: int, views=CLUSTER, query=None,
                    count: int = 0) -> str:
    """A load stopped by its rejected records, worded like the local loader's LoadError, with their true
    count; ``said``: what Redshift said, when a COPY failed (None when the run stopped it)."""
    if not records:
        return (
            f"{table_name}: COPY failed: {said}\n"
            "Redshift recorded no rejected record for it, so it could not read the files: "
            "python doctor.py checks the IAM role, the region and the S3 paths."
        )
    where = look_up(views.of_query(query), views) if query is not None else views.view
    return too_many_rejected(table_name, records, max(count, len(records)), max_errors, said, shown=SHOWN,
                             look_up=where)


def insert_rejected(records) -> tuple[str, list]:
    """(one INSERT that keeps ``records`` in rejected_records, its values), each value cut to its
    column's size in bytes; the engine's cursor quotes the values."""
    def cut(value, size=64):
        if value is None:
            return None
        return str(value).replace("\x00", "").encode("utf-8")[:size].decode("utf-8", "ignore")

    values = []
    for record in records:  # RejectedRecord's fields, in the order of rejected_records' columns
        values += [cut(record.table_name), cut(record.source_file, 1024), int(record.line_number),
                   cut(record.column_name), cut(record.reason, 1024), cut(record.raw_value, 1024),
                   cut(record.raw_record, 65535)]
    rows = ",\n".join("(%s, %s, %s, %s, %s, %s, %s)" for _ in records)
    return f"INSERT INTO rejected_records ({column_list('rejected_records')})\nVALUES\n{rows}", values
