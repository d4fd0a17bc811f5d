"""The floor under the transform: the least any full load's transform does on PostgreSQL, timed.

    .venv/bin/python -m bench.floor                    # 1,000,000 events, median of 3
    .venv/bin/python -m bench.floor --events 100000 --repeat 5

A maintainer's tool, not part of the test suite. The transform's target
(bench/README.md#the-targets) is a number of seconds; this says how many of
them no plan can save on the machine at hand. It loads a dataset of
bench/run.py (generated once into bench/.cache/data/, or ``--data``) into a
schema of its own of the benchmark's embedded PostgreSQL
(bench/.cache/pgdata, dropped afterwards) with ``api.run``, then times, in
a transaction that is rolled back each repeat, with the run's own session
settings and its keys dropped as a full load drops them:

- ``songplay_table``: one row for every NextSong event, its columns as the
  fact has them, with no catalogue match (song_id and artist_id NULL) and no
  ranking of copies;
- ``time_table``: one row for each distinct play time, with the date parts
  left at 0;
- the dimensions: one row for each distinct user_id, song_id and artist_id,
  with no tie-break (any of the rows of an id);
- the keys the full load adds back (sql_queries.py's primary keys, the
  fact's unique key and the foreign keys), as the run adds them.

What it leaves out the contract asks for: the catalogue match, the
tie-breaks, the date parts, the ranking of re-delivered events and the
checks. The real transform does all of this work and more, so its seconds
can only be larger than the floor's.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg2

from bench.plans import CACHE, backend_cpu
from bench.run import TRANSFORM_TARGET_SECONDS, checkpoint, dataset, loadavg
from sparkify import api
from sparkify.engines import embedded
from sparkify.engines.postgres import STAR_KEYS, PostgresEngine
from sparkify.results import Failed
from sql_queries import INSERT_COLUMNS, START_TIME, column_list, nextsong, star_tables

SCHEMA = "floor"


def values(table, computed) -> str:
    """The SELECT list of ``table``'s INSERT: each column as staging names it, or as ``computed`` says."""
    return ", ".join(computed.get(column, column) for column in INSERT_COLUMNS[table])


NO_DATE_PARTS = {column: "0" for column in INSERT_COLUMNS["time_table"]} | {"start_time": START_TIME}
NO_MATCH = {"start_time": START_TIME, "song_id": "NULL", "artist_id": "NULL"}

# table -> the least INSERT that fills it so that its keys hold, in the order a full load fills them.
FLOOR_ROWS = {
    "artist_table": """
INSERT INTO artist_table (artist_id)
SELECT DISTINCT artist_id
FROM staging_songs
WHERE artist_id IS NOT NULL
""",
    "song_table": f"""
INSERT INTO song_table ({column_list("song_table")})
SELECT DISTINCT ON (song_id) {column_list("song_table")}
FROM staging_songs
WHERE song_id IS NOT NULL
""",
    "user_table": """
INSERT INTO user_table (user_id)
SELECT DISTINCT user_id
FROM staging_events
WHERE user_id IS NOT NULL
""",
    "time_table": f"""
INSERT INTO time_table ({column_list("time_table")})
SELECT {values("time_table", NO_DATE_PARTS)}
FROM (
    SELECT DISTINCT ts
    FROM staging_events
    WHERE {nextsong()}
) AS play_times
""",
    "songplay_table": f"""
INSERT INTO songplay_table ({column_list("songplay_table")})
SELECT {values("songplay_table", NO_MATCH)}
FROM staging_events
WHERE {nextsong()}
""",
}


def parse_args(argv=None):
    """The command line: which dataset, how many repeats, where the report also goes."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the dataset's events (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="times the floor runs; medians are shown (default 3)")
    parser.add_argument("--data", type=Path, help="where the generated datasets are kept (default bench/.cache/data)")
    parser.add_argument("--output", type=Path, help="also write the report there")
    return parser.parse_args(argv)


def load(connection, folder) -> list[tuple[str, str, str]]:
    """Create the tables, load ``folder`` in full, and return the star's keys (table, name, definition).

    Then read staging once and write out what that read dirtied: the first
    read of rows another transaction committed sets their hint bits, which
    writes every page again. A full load reads the rows it staged itself in
    its own transaction and never pays that; the floor's first repeat would.
    """
    api.create_tables(connection, "postgres")
    try:
        result = api.run(connection, "postgres", str(folder))
    except Failed as error:
        raise SystemExit(f"bench.floor: the load of {folder.name} failed: no floor to time: {error}") from None
    if not result.committed:
        raise SystemExit(f"bench.floor: the load of {folder.name} committed nothing: {result.choice.reason}")
    with connection.cursor() as cursor:
        cursor.execute(STAR_KEYS, (star_tables,))
        keys = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM staging_events")
        cursor.execute("SELECT COUNT(*) FROM staging_songs")
    connection.rollback()
    checkpoint(connection.dsn)
    return keys


def floor_once(connection, keys) -> list[tuple[str, float, float]]:
    """One floor in a transaction, rolled back: [(what, wall seconds, backend CPU seconds)].

    The engine's own settings and TRUNCATE, as a full load runs them. The
    keys are dropped and added back here rather than by the engine's
    bulk_insert(), which times the indexes and the foreign keys as two
    sums: the floor shows each one.
    """
    engine = PostgresEngine()
    pid = connection.get_backend_pid()
    timed = []
    with connection.cursor() as cursor:
        for statement in engine.transform_settings() + engine.clear_star():
            cursor.execute(statement)
        for table, name, _ in keys:  # foreign keys first, as the full load drops them
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        statements = [(f"{table}: rows", sql) for table, sql in FLOOR_ROWS.items()]
        statements += [(f"{table}: {definition.split(' (')[0].lower()} ({name})",
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                       for table, name, definition in reversed(keys)]
        for what, sql in statements:
            cpu, started = backend_cpu(pid), time.perf_counter()
            cursor.execute(sql)
            timed.append((what, time.perf_counter() - started, backend_cpu(pid) - cpu))
    connection.rollback()
    return timed


def report(folder_name, runs) -> str:
    """Each part's median seconds, the floor's, and its share of the transform's target."""
    whats = [what for what, _, _ in runs[0]]
    wall = {what: statistics.median(run[i][1] for run in runs) for i, what in enumerate(whats)}
    cpu = {what: statistics.median(run[i][2] for run in runs) for i, what in enumerate(whats)}
    totals = [sum(seconds for _, seconds, _ in run) for run in runs]
    total = statistics.median(totals)
    lines = [
        f"dataset: {folder_name}; {len(runs)} repeats (medians); {loadavg()}",
        "",
        "  wall s    CPU s  the least the transform writes and builds",
        *(f"{wall[what]:8.2f} {cpu[what]:8.2f}  {what}" for what in whats),
        f"{total:8.2f}           floor: rows written and keys built "
        f"(each repeat: {', '.join(f'{seconds:.2f}' for seconds in totals)} s)",
        "",
        f"The transform's target is under {TRANSFORM_TARGET_SECONDS:g} s; the floor alone takes {total:.2f} s "
        f"({total / TRANSFORM_TARGET_SECONDS:.0%} of it), before the catalogue match, the tie-breaks, the date "
        "parts, the ranking of re-delivered events and the checks.",
    ]
    return "\n".join(lines) + "\n"


def drop_schema(dsn) -> None:
    """Drop the floor's schema: a million events leave about a gigabyte in it."""
    admin = psycopg2.connect(dsn)
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    finally:
        admin.close()


def main(argv=None):
    """Load, time the floor ``--repeat`` times, drop the schema, print (and write) the report."""
    args = parse_args(argv)
    folder = dataset(args.events, args.data)
    server = embedded.start(CACHE / "pgdata", "bench")
    connection = psycopg2.connect(embedded.fresh_schema(server, SCHEMA))
    try:
        print(f"loading {folder.name} ...", file=sys.stderr, flush=True)
        keys = load(connection, folder)
        runs = []
        for repeat in range(args.repeat):
            print(f"floor {repeat + 1}/{args.repeat}", file=sys.stderr, flush=True)
            runs.append(floor_once(connection, keys))
    finally:
        connection.close()
        drop_schema(server)
    text = report(folder.name, runs)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
