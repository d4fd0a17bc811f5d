"""What Redshift knows about the records a COPY turned down, told as the local loader tells it.

A failed COPY says only "Load into table 'staging_events' failed. Check
'stl_load_errors' system table for details." The details are in Redshift's
load-error views, one row per rejected record: the file, the line, the column,
the raw value and the reason. This module fetches the rows of this session's
last COPY (``query = pg_last_copy_id()``, as the AWS documentation does, which
also holds after the COPY failed) and turns them into the loader's
``RejectedRecord``, so that a bad record reads the same on both engines:

    staging_events: s3://bucket/log_data/2018/11/2018-11-01-events.json:2, column session_id:
    Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)

The query names its columns as ``sys_load_error_detail`` does (file_name,
line_number, column_name, error_message, error_code), plus the raw text that
``stl_load_errors`` keeps (raw_field_value, raw_line): ``rejected_records()``
reads rows of either view.
"""

import psycopg2

from sparkify.results import LoadError, RejectedRecord
from sparkify.sqltext import quote_literal

SHOWN = 10  # rejected records written out in an error message
KEPT = 1000  # rejected records fetched from Redshift at most

LOAD_ERRORS = f"""
SELECT
    TRIM(filename) AS file_name,
    line_number,
    TRIM(colname) AS column_name,
    TRIM(err_reason) AS error_message,
    err_code AS error_code,
    TRIM(raw_field_value) AS raw_field_value,
    TRIM(raw_line) AS raw_line
FROM stl_load_errors
WHERE query = pg_last_copy_id(){{only_after}}
ORDER BY file_name, line_number
LIMIT {KEPT}
"""


def load_errors_query(after=None) -> str:
    """The rejected records of the session's last COPY.

    ``after``: the COPY id seen before; a COPY that failed before it started
    loading (no access to S3, say) does not change pg_last_copy_id(), and the
    records of the COPY before it must not be shown as its own.
    """
    only_after = "" if after is None else f"\n    AND query <> {int(after)}"
    return LOAD_ERRORS.format(only_after=only_after)


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


def load_errors(cursor, table_name: str, after=None) -> list[RejectedRecord]:
    """Ask Redshift for the records its last COPY into ``table_name`` rejected."""
    cursor.execute(load_errors_query(after))
    names = [column[0] for column in cursor.description or []]
    return rejected_records(table_name, [dict(zip(names, row)) for row in cursor.fetchall()])


def copy_failed(cursor, table_name: str, error: psycopg2.Error, previous_copy, max_errors: int) -> LoadError:
    """The LoadError for a COPY that failed: what Redshift said, and the records it rejected.

    The failed COPY aborted the transaction, so it is rolled back first (the
    previous warehouse stays as it was); the load-error views outlive it.
    """
    connection = cursor.connection
    connection.rollback()
    try:
        records = load_errors(cursor, table_name, after=previous_copy)
    except psycopg2.Error:
        records = []
    connection.rollback()
    said = " ".join(str(error).split()) or type(error).__name__
    return LoadError(failure_message(table_name, said, records, max_errors), records)


def failure_message(table_name: str, said: str, records, max_errors: int) -> str:
    """A failed COPY, worded like the local loader's LoadError."""
    if not records:
        return (
            f"{table_name}: COPY failed: {said}\n"
            "Redshift recorded no rejected record for it, so it could not read the files: "
            "python doctor.py checks the IAM role, the region and the S3 paths."
        )
    lines = [f"{table_name}: {records[0].describe()}"]
    if records[0].raw_record:
        lines.append(f"  record: {records[0].raw_record[:200]}")
    for record in records[1:SHOWN]:
        lines.append(f"  also {record.describe()}")
    if len(records) > SHOWN:
        lines.append(f"  ... and {len(records) - SHOWN} more: SELECT * FROM stl_load_errors "
                     "WHERE query = pg_last_copy_id()")
    lines.append(
        f"The load stopped: {len(records)} rejected record(s), more than --max-errors {max_errors} "
        f"(Redshift said: {said}). Fix the source, or rerun with --max-errors N to load the good "
        "records and keep the rejected ones in rejected_records."
    )
    return "\n".join(lines)


def insert_rejected(records) -> str:
    """One INSERT that keeps ``records`` in rejected_records, every value a quoted literal
    cut to its column's size in bytes."""
    def literal(value, size=64):
        if value is None:
            return "NULL"
        cut = str(value).replace("\x00", "").encode("utf-8")[:size].decode("utf-8", "ignore")
        return quote_literal(cut)

    rows = ",\n".join(
        "(" + ", ".join([
            literal(record.table_name),
            literal(record.source_file, 1024),
            str(int(record.line_number)),
            literal(record.column_name),
            literal(record.reason, 1024),
            literal(record.raw_value, 1024),
            literal(record.raw_record, 65535),
        ]) + ")"
        for record in records
    )
    return (
        "INSERT INTO rejected_records "
        "(table_name, source_file, line_number, column_name, reason, raw_value, raw_record)\n"
        f"VALUES\n{rows}"
    )
