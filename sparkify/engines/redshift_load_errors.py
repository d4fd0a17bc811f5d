"""What Redshift knows about the records a COPY turned down, told as the local loader tells it.

A failed COPY says only "Load into table 'staging_events' failed. Check
'stl_load_errors' system table for details." The details are in Redshift's
load-error views, one row per rejected record: the file, the line, the column
and the reason. This module fetches the rows of one COPY and turns them into
the loader's ``RejectedRecord``, so that a bad record reads the same on both
engines:

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
- **Serverless: SYS_LOAD_ERROR_DETAIL** (there are no STL views), joined to
  this session's loads in SYS_LOAD_HISTORY by session_id
  (https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html,
  https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_HISTORY.html).
  STL's ``query`` and SYS's ``query_id`` are different identifiers, so
  pg_last_copy_id() is not used there at all.

Which COPY: not ``query = pg_last_copy_id()``. "If the COPY transaction is
rolled back, the COPY ID is not updated"
(https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html), and a
failed COPY aborts the run's transaction, which must be rolled back before
anything can be asked: pg_last_copy_id() then still names the COPY before
it. Both flavours instead take the newest load of this session
(``pg_backend_pid()``) after the last COPY this run saw succeed: after a
successful COPY that is the COPY itself, after a failed one the failed COPY.

File names: both views hold the file name in a CHAR(256). An S3 URL longer
than that is cut, and would not match the ledger's names; ``full_names()``
maps a cut name back to the one file COPY read that it begins (the
manifest's entries), or says that it was cut.
"""

from sparkify.engines.errors import DatabaseError
from sparkify.results import LoadError, RejectedRecord, too_many_rejected
from sql_queries import column_list

SHOWN = 10  # rejected records written out in an error message
KEPT = 1000  # rejected records fetched from Redshift at most
FILE_NAME_CHARS = 256  # STL_LOAD_ERRORS.filename and SYS_LOAD_ERROR_DETAIL.file_name: CHAR(256)
CUT = " (name cut to 256 characters by Redshift)"


class ClusterViews:
    """A provisioned cluster: STL_LOAD_ERRORS, with the raw text of the record."""

    name = "provisioned"
    view = "stl_load_errors"
    # (this COPY's id, rows it loaded): right after a COPY that succeeded
    copy_result = "SELECT pg_last_copy_id(), pg_last_copy_count()"
    errors = f"""
SELECT
    TRIM(filename) AS file_name,
    line_number,
    TRIM(colname) AS column_name,
    TRIM(err_reason) AS error_message,
    err_code AS error_code,
    TRIM(raw_field_value) AS raw_field_value,
    TRIM(raw_line) AS raw_line
FROM stl_load_errors
WHERE {{which}}
ORDER BY file_name, line_number
LIMIT {KEPT}
"""
    # the COPY that just succeeded (pg_last_copy_id() is right then), or the newest after a given one
    this_copy = "query = pg_last_copy_id()"
    newest_after = """query = (
    SELECT MAX(query)
    FROM stl_load_errors
    WHERE session = pg_backend_pid() AND query > {after}
)"""
    look_up = "SELECT * FROM stl_load_errors WHERE session = pg_backend_pid() ORDER BY query DESC"


class ServerlessViews:
    """Serverless: SYS_LOAD_HISTORY finds this session's COPY, SYS_LOAD_ERROR_DETAIL its records."""

    name = "serverless"
    view = "sys_load_error_detail"
    copy_result = """
SELECT query_id, loaded_rows
FROM sys_load_history
WHERE session_id = pg_backend_pid()
ORDER BY query_id DESC
LIMIT 1
"""
    errors = f"""
SELECT
    TRIM(file_name) AS file_name,
    line_number,
    TRIM(column_name) AS column_name,
    TRIM(error_message) AS error_message,
    error_code
FROM sys_load_error_detail
WHERE {{which}}
ORDER BY file_name, line_number
LIMIT {KEPT}
"""
    this_copy = """query_id = (
    SELECT MAX(query_id)
    FROM sys_load_history
    WHERE session_id = pg_backend_pid()
)"""
    newest_after = """query_id = (
    SELECT MAX(query_id)
    FROM sys_load_history
    WHERE session_id = pg_backend_pid() AND query_id > {after}
)"""
    look_up = "SELECT * FROM sys_load_error_detail WHERE session_id = pg_backend_pid() ORDER BY query_id DESC"


CLUSTER, SERVERLESS = ClusterViews(), ServerlessViews()


def load_errors_query(after=None, views=CLUSTER) -> str:
    """The rejected records of the COPY that just succeeded (``after`` None), or of this
    session's newest COPY after the COPY ``after`` (-1: any), which is how a failed one is found."""
    which = views.this_copy if after is None else views.newest_after.format(after=int(after))
    return views.errors.format(which=which)


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


def full_names(records, files=None) -> list[RejectedRecord]:
    """``records`` with each file name cut by Redshift's CHAR(256) mapped back to the full URL.

    ``files``: the URLs COPY read (a manifest's entries), when known. A cut
    name that begins exactly one of them becomes that URL; any other cut name
    says that it was cut, so that nobody takes it for a file's name.
    """
    files = list(files or [])
    for record in records:
        name = record.source_file
        if len(name.encode("utf-8")) < FILE_NAME_CHARS - 1 or name in files:
            continue
        matches = [url for url in files if url.startswith(name)]
        record.source_file = matches[0] if len(matches) == 1 else name + CUT
    return records


def load_errors(cursor, table_name: str, after=None, views=CLUSTER, files=None) -> list[RejectedRecord]:
    """Ask Redshift for the records a COPY rejected: the one that just succeeded, or (``after``)
    this session's newest after the COPY ``after``."""
    cursor.execute(load_errors_query(after, views))
    names = [column[0] for column in cursor.description or []]
    records = rejected_records(table_name, [dict(zip(names, row)) for row in cursor.fetchall()])
    return full_names(records, files)


def copy_failed(cursor, table_name: str, error: DatabaseError, previous_copy, max_errors: int,
                views=CLUSTER, files=None) -> LoadError:
    """The LoadError for a COPY that failed: what Redshift said, and the records it rejected.

    The failed COPY aborted the transaction, so it is rolled back first (the
    previous warehouse stays as it was); the load-error views outlive it. The
    failed COPY is this session's newest after ``previous_copy`` (the last COPY
    this run saw succeed), not pg_last_copy_id(), which the rollback left at
    ``previous_copy``.
    """
    connection = cursor.connection
    connection.rollback()
    try:
        records = load_errors(cursor, table_name, after=previous_copy, views=views, files=files)
    except DatabaseError:
        records = []
    connection.rollback()
    said = " ".join(str(error).split()) or type(error).__name__
    return LoadError(failure_message(table_name, said, records, max_errors, views), records)


def failure_message(table_name: str, said: str, records, max_errors: int, views=CLUSTER) -> str:
    """A failed COPY, worded like the local loader's LoadError."""
    if not records:
        return (
            f"{table_name}: COPY failed: {said}\n"
            "Redshift recorded no rejected record for it, so it could not read the files: "
            "python doctor.py checks the IAM role, the region and the S3 paths."
        )
    return too_many_rejected(table_name, records, len(records), max_errors, said, shown=SHOWN, look_up=views.look_up)


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
