"""The values the warehouse can hold beyond their column's type: the range of ``ts``.

``staging_events.ts`` is a BIGINT of epoch milliseconds, but a BIGINT is not
the limit: the transform turns it into ``TIMESTAMP 'epoch' + ts * INTERVAL
'1 millisecond'`` and splits that into time_table's SMALLINT columns (hour,
day, week, month, year, weekday). A ts that fits a BIGINT may still fail
there, and fail the whole load: PostgreSQL and Redshift hold a TIMESTAMP
from 4713 BC to 294276 AD, ``ts * INTERVAL`` overflows beyond that, and a
year over 32,767 does not fit a SMALLINT.

The data contract: ``ts`` is a time from 0001-01-01 00:00:00.000 to
9999-12-31 23:59:59.999 UTC, that is epoch milliseconds from ``TS_MIN_MS``
to ``TS_MAX_MS``, both included. Within it the transform holds on both
engines (a year of four digits, no BC dates, whose EXTRACT differs), and
it is the range of ISO 8601 and of Python's datetime. A record whose ts is
outside is a rejected record (file, line, column ts, why), like any value
that does not fit its column: the local loader reads ``COLUMN_RANGES``; on
Redshift, whose COPY loads any BIGINT, the engine rejects the same records
with the same reason right after the COPY (engines/redshift.py's
staged_ts_out_of_range_*), against the same --max-errors.
"""

TS_MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
TS_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
TS_RANGE_TEXT = "0001-01-01 to 9999-12-31 UTC"

# column name -> (lowest, highest) value it may hold, narrower than its type's range
COLUMN_RANGES = {"ts": (TS_MIN_MS, TS_MAX_MS)}
# what a rejection says of a value outside COLUMN_RANGES
RANGE_MEANING = {"ts": f"epoch milliseconds from {TS_MIN_MS} to {TS_MAX_MS}, a time from {TS_RANGE_TEXT}"}

