"""The floor under the transform: the least any full load's transform does on PostgreSQL, timed.

    .venv/bin/python -m bench.floor                    # 1,000,000 events, median of 3
    .venv/bin/python -m bench.floor --events 100000 --repeat 5

A maintainer's tool, not part of the test suite. The transform's target
(bench/README.md#the-targets) is a number of seconds; this says how many of
them no plan can save on the machine at hand. It loads a dataset of
bench/run.py (generated once into bench/.cache/data/, or ``--data``) into a
fresh schema of the benchmark's embedded PostgreSQL (bench/.cache/pgdata)
with ``api.run``, then times, in a transaction that is rolled back each
repeat, with the run's own session settings and its keys dropped as a full
load drops them:

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

from bench.plans import CACHE, backend_cpu
from bench.run import loadavg
from sql_queries import column_list

SCHEMA = "floor"

# table -> the least INSERT that fills it so that its keys hold.
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
SELECT TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond', 0, 0, 0, 0, 0, 0
FROM (
    SELECT DISTINCT ts
    FROM staging_events
    WHERE page = 'NextSong'
) AS play_times
""",
    "songplay_table": f"""
INSERT INTO songplay_table ({column_list("songplay_table")})
SELECT
    TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond',
    user_id,
    level,
    NULL,
    NULL,
    session_id,
    item_in_session,
    location,
    user_agent
FROM staging_events
WHERE page = 'NextSong'
""",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the dataset's events (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="times the floor runs; medians are shown (default 3)")
    parser.add_argument("--data", type=Path, help="where the generated datasets are kept (default bench/.cache/data)")
    parser.add_argument("--output", type=Path, help="also write the report there")
    return parser.parse_args(argv)


def floor_once(connection, keys) -> list[tuple[str, float, float]]:
    """One floor in a transaction, rolled back: [(what, wall seconds, backend CPU seconds)]."""
    from sparkify.engines.postgres import TRANSFORM_SETTINGS

    pid = connection.get_backend_pid()
    timed = []
    with connection.cursor() as cursor:
        for setting in TRANSFORM_SETTINGS:
            cursor.execute(setting)
        for table, name, _ in keys:  # foreign keys first, as the full load drops them
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        cursor.execute("TRUNCATE songplay_table, user_table, song_table, artist_table, time_table")
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


def report(folder_name, runs, transform_target) -> str:
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
        f"The transform's target is under {transform_target:g} s; the floor alone takes {total:.2f} s "
        f"({total / transform_target:.0%} of it), before the catalogue match, the tie-breaks, the date parts, "
        "the ranking of re-delivered events and the checks.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    import psycopg2

    from bench.run import TRANSFORM_TARGET_SECONDS, dataset
    from sparkify import api
    from sparkify.engines import embedded
    from sparkify.engines.postgres import STAR_KEYS
    from sql_queries import star_tables

    folder = dataset(args.events, args.data)
    dsn = embedded.fresh_schema(embedded.start(CACHE / "pgdata", "bench"), SCHEMA)
    connection = psycopg2.connect(dsn)
    try:
        api.create_tables(connection, "postgres")
        print(f"loading {folder.name} ...", file=sys.stderr, flush=True)
        result = api.run(connection, "postgres", str(folder))
        if not result.committed:
            raise SystemExit("the load failed; no floor to measure")
        with connection.cursor() as cursor:
            cursor.execute(STAR_KEYS, (star_tables,))
            keys = cursor.fetchall()
        connection.rollback()
        runs = []
        for repeat in range(args.repeat):
            print(f"floor {repeat + 1}/{args.repeat}", file=sys.stderr, flush=True)
            runs.append(floor_once(connection, keys))
    finally:
        connection.close()
        embedded.fresh_schema(embedded.start(CACHE / "pgdata", "bench"), SCHEMA)  # empty again: no 1 GB left behind
    text = report(folder.name, runs, TRANSFORM_TARGET_SECONDS)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
