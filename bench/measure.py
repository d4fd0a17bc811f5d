"""One measurement of the benchmark, run in a process of its own.

    python -m bench.measure '{"method": "ceiling", "dsn": "...", "dataset": "...", ...}'

bench/run.py starts one process per measurement, so that the peak resident
memory it reads back (os.wait4) is that measurement's alone. The last line
printed is a JSON object: seconds (timed part only), rows, and for some
methods a breakdown ("parts").

Each measurement that writes to the database does so in a fresh schema of its
own (created here, dropped afterwards), with the project's own DDL.
"""

import json
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from sparkify.results import CHECKS
from sparkify.sources.folder import LocalSource

PROJECT_DIR = Path(__file__).resolve().parent.parent

COPY_CHUNK = 64 * 1024
TRANSFORM_TOTAL = "transform: five tables, keys, checks"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@contextmanager
def fresh_schema(args):
    """A connection whose search_path is a new, empty schema holding the project's tables.

    The schema is dropped afterwards, unless ``args["keep"]``.
    """
    from sparkify.api import create_tables
    from sparkify.engines.postgres import STAGING_EVENTS_INDEX_DROP

    name = args["schema"]
    connection = psycopg2.connect(args["dsn"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            cursor.execute(f"CREATE SCHEMA {name}")
            cursor.execute(f"SET search_path TO {name}")
        connection.commit()
        create_tables(connection, "postgres")
        with connection.cursor() as cursor:  # etl.py's full load stages without it, and builds it after
            cursor.execute(STAGING_EVENTS_INDEX_DROP)
        connection.commit()
        yield connection
    finally:
        connection.rollback()
        if not args.get("keep"):
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            connection.commit()
        connection.close()


class OnlyPrefix:
    """A source that shows only one of song_data/ and log_data/: stage one table alone."""

    def __init__(self, source, prefix):
        self._source = source
        self._prefix = prefix
        self.label = source.label

    def check(self):
        self._source.check()

    def files(self, prefix):
        return self._source.files(prefix) if prefix == self._prefix else []

    def read_bytes(self, name, limit):
        return self._source.read_bytes(name, limit)


def event_lines(dataset, limit=None):
    """The raw lines (bytes) of the log files, in the loader's order, up to ``limit``."""
    count = 0
    for source_file in LocalSource(dataset).files("log_data"):
        with source_file.open() as stream:
            for line in stream.read().split(b"\n"):
                if line.strip():
                    yield line
                    count += 1
                    if limit is not None and count >= limit:
                        return


def event_keys(dataset):
    """The JSON key of each staging_events column, from the source's log_json_path.json."""
    from sparkify.sources.jsonpaths import read_jsonpaths

    paths = read_jsonpaths((Path(dataset) / "log_json_path.json").read_bytes())
    assert all(len(path) == 1 and isinstance(path[0], str) for path in paths)
    return [path[0] for path in paths]


def staging_columns(cursor):
    cursor.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'staging_events' AND table_schema = current_schema() ORDER BY ordinal_position"
    )
    return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------


def ceiling(args):
    """COPY FROM STDIN of the pre-flattened CSV into staging_events: nothing to parse or convert."""
    with fresh_schema(args) as connection, connection.cursor() as cursor, open(args["csv"], "rb") as stream:
        started = time.perf_counter()
        cursor.copy_expert("COPY staging_events FROM STDIN (FORMAT csv)", stream, size=COPY_CHUNK)
        connection.commit()
        return {"seconds": time.perf_counter() - started, "rows": cursor.rowcount}


def parse_orjson(args):
    """Read every log file and parse every line with orjson: no database."""
    import orjson

    return _parse(args, orjson.loads)


def parse_json(args):
    """The same with the standard library's json."""
    return _parse(args, json.loads)


def _parse(args, loads):
    started = time.perf_counter()
    rows = 0
    for line in event_lines(args["dataset"]):
        loads(line)
        rows += 1
    return {"seconds": time.perf_counter() - started, "rows": rows}


def loader(args):
    """Our loader (staging_loader.stage_source) on log_data/ alone or song_data/ alone.

    The time includes listing the files (the file-system walk), opening and
    reading each one, and the commit.
    """
    from sparkify.engines.local_loader.staging import stage_source

    prefix = args["prefix"]
    with fresh_schema(args) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        loads = stage_source(cursor, OnlyPrefix(LocalSource(args["dataset"]), prefix))
        connection.commit()
        seconds = time.perf_counter() - started
    if prefix == "song_data":
        return {"seconds": seconds, "rows": loads[1].files}
    return {"seconds": seconds, "rows": loads[0].rows}


def insert_loop(args):
    """The tutorial solution's way: json.loads each event, one cursor.execute(INSERT) per event.

    On the first ``subset`` events only; run.py extrapolates to the dataset.
    """
    keys = event_keys(args["dataset"])
    user_id = keys.index("userId")
    with fresh_schema(args) as connection, connection.cursor() as cursor:
        columns = staging_columns(cursor)
        sql = f"INSERT INTO staging_events ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        started = time.perf_counter()
        rows = 0
        for line in event_lines(args["dataset"], args["subset"]):
            event = json.loads(line)
            values = [event.get(key) for key in keys]
            values[user_id] = int(values[user_id]) if values[user_id] not in (None, "") else None
            cursor.execute(sql, values)
            rows += 1
        connection.commit()
        return {"seconds": time.perf_counter() - started, "rows": rows}


def to_sql(args):
    """pandas: json.loads each event, one DataFrame, DataFrame.to_sql through SQLAlchemy.

    On the first ``subset`` events only; run.py extrapolates to the dataset.
    """
    import pandas
    import sqlalchemy

    keys = event_keys(args["dataset"])
    with fresh_schema(args) as connection:
        with connection.cursor() as cursor:
            columns = staging_columns(cursor)
        connection.commit()
        engine = sqlalchemy.create_engine("postgresql+psycopg2://", creator=lambda: psycopg2.connect(args["dsn"]))
        try:
            started = time.perf_counter()
            records = [json.loads(line) for line in event_lines(args["dataset"], args["subset"])]
            frame = pandas.DataFrame.from_records(records, columns=keys)
            frame["userId"] = pandas.to_numeric(frame["userId"].replace("", None), errors="coerce").astype("Int64")
            frame.columns = columns
            with engine.begin() as sa_connection:
                frame.to_sql("staging_events", sa_connection, schema=args["schema"], if_exists="append",
                             index=False, chunksize=10_000)
            return {"seconds": time.perf_counter() - started, "rows": len(frame)}
        finally:
            engine.dispose()


def etl_run(args):
    """api.run in process: staging, the five tables, the checks, the commit, each timed."""
    from sparkify import api

    with fresh_schema(args) as connection:
        started = time.perf_counter()
        result = api.run(connection, "postgres", args["dataset"])
        seconds = time.perf_counter() - started
    failed = [check for check in result.checks if not check.passed]
    assert not failed, failed
    parts = {}
    rows = {}
    for load in result.loads:
        parts[f"stage {load.table}"] = load.seconds
        rows[f"stage {load.table}"] = load.rows
    transform_total = 0.0
    for step in result.steps:
        if step.action == CHECKS:  # in "the rest", below
            continue
        # "6 key indexes built": the count is the engine's
        name, count, step_seconds = step.table or re.sub(r"^\d+ ", "", step.action), step.rows, step.seconds
        parts[name] = step_seconds
        rows[name] = count
        transform_total += step_seconds
    parts["checks"] = result.checks_seconds
    transform_total += result.checks_seconds
    parts[TRANSFORM_TOTAL] = transform_total
    # the rest: the lock, emptying staging, listing the files, ANALYZE, staging_events' ts index, the commit
    staged = sum(load.seconds for load in result.loads)
    parts["the rest (listing, ANALYZE, ts index, commit)"] = seconds - staged - transform_total
    return {"seconds": seconds, "rows": rows.get("songplay_table", 0), "parts": parts, "part_rows": rows}


# --- S3 ---------------------------------------------------------------------


def _s3_client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(max_pool_connections=64))


def s3_setup(args):
    """Create the bucket and put the objects (song files of the dataset), not timed."""
    from concurrent.futures import ThreadPoolExecutor

    client = _s3_client(args["endpoint"])
    client.create_bucket(Bucket=args["bucket"])
    files = LocalSource(args["dataset"]).files("song_data")[: args["objects"]]
    assert len(files) == args["objects"], f"the dataset holds only {len(files)} song files"
    client.put_object(Bucket=args["bucket"], Key="src/log_json_path.json",
                      Body=(Path(args["dataset"]) / "log_json_path.json").read_bytes())

    def put(source_file):
        with source_file.open() as stream:
            client.put_object(Bucket=args["bucket"], Key=f"src/{source_file.name}", Body=stream.read())

    started = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, files))
    return {"seconds": time.perf_counter() - started, "rows": len(files)}


def s3_sequential(args):
    """One GET after the other with a plain boto3 client (the listing included)."""
    client = _s3_client(args["endpoint"])
    started = time.perf_counter()
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=args["bucket"], Prefix="src/song_data/")
        for item in page.get("Contents", [])
    ]
    size = 0
    for key in keys:
        size += len(client.get_object(Bucket=args["bucket"], Key=key)["Body"].read())
    return {"seconds": time.perf_counter() - started, "rows": len(keys), "bytes": size}


def s3_read_ahead(args):
    """The project's S3Source: the listing, then every file opened in order, fetched ahead by its pool."""
    from sparkify.sources.s3 import S3Source

    started = time.perf_counter()
    source = S3Source(f"s3://{args['bucket']}/src", endpoint_url=args["endpoint"], region="us-east-1")
    try:
        files = source.files("song_data")
        size = 0
        for source_file in files:
            with source_file.open() as stream:
                size += len(stream.read())
    finally:
        source.close()
    return {"seconds": time.perf_counter() - started, "rows": len(files), "bytes": size}


METHODS = {
    "ceiling": ceiling,
    "parse_orjson": parse_orjson,
    "parse_json": parse_json,
    "loader": loader,
    "insert_loop": insert_loop,
    "to_sql": to_sql,
    "etl_run": etl_run,
    "s3_setup": s3_setup,
    "s3_sequential": s3_sequential,
    "s3_read_ahead": s3_read_ahead,
}


def main():
    args = json.loads(sys.argv[1])
    os.chdir(PROJECT_DIR)
    result = METHODS[args["method"]](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
