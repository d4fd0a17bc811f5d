"""What a daily run costs: one new day on a warehouse holding a month, against a full reload.

    .venv/bin/python -m bench.incremental_day                  # 1,000,000 events over 30 days
    .venv/bin/python -m bench.incremental_day --events 100000 --repeat 3

It is not part of the test suite. It uses the month of bench/run.py
(generated once into bench/.cache/data/), starts an embedded PostgreSQL of its own in
bench/.cache/pgdata-incremental, and times, on a fresh schema each repeat:

1. a full load of all 30 days (``api.run(..., full=True)``);
2. a full load of days 1-28, the daily run of day 29, then, timed alone, the
   daily run of day 30 (``api.run(..., full=False)``). The untimed day 29
   puts the warehouse in the state a daily run finds: the day before was a
   daily run too. The first reads of rows a bulk load has just written set
   their hint bits, writing the pages again, which a warehouse loaded
   yesterday has long done. Day 29's time is printed too, as "the first
   daily run after a full load";

and checks that the two warehouses hold the same rows. It prints the medians
and their ratio.
"""

import argparse
import shutil
import statistics
import time
from pathlib import Path

import psycopg2
import psycopg2.extensions

from bench.run import CACHE, DATA, DAYS, checkpoint, dataset  # its generated months
from sparkify import api
from sparkify.api import create_tables
from sparkify.engines import embedded as local_postgres
from sparkify.engines.embedded import fresh_schema
from sparkify.output.summary import summary
from sql_queries import column_list


def first_days(folder, days, into):
    """A copy of ``folder`` holding its songs and its first ``days`` log files."""
    if not (into / "song_data").exists():
        into.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / "log_json_path.json", into)
        shutil.copytree(folder / "song_data", into / "song_data", copy_function=shutil.copy2)
    shutil.rmtree(into / "log_data", ignore_errors=True)
    for path in sorted((folder / "log_data").rglob("*.json"))[:days]:
        target = into / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return into


def fresh_warehouse(dsn, name):
    connection = psycopg2.connect(fresh_schema(dsn, name))
    create_tables(connection, "postgres")
    return connection


def timed_run(connection, folder, full):
    checkpoint(connection.dsn)  # the previous run's writes reach the disk before this one starts
    started = time.perf_counter()
    result = api.run(connection, "postgres", folder, full=full)
    return time.perf_counter() - started, result


def star_rows(connection):
    rows = {}
    with connection.cursor() as cursor:
        for table, columns in [
            ("songplay_table", column_list("songplay_table")),
            ("user_table", "*"), ("song_table", "*"), ("artist_table", "*"), ("time_table", "*"),
        ]:
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3, 4, 5")
            rows[table] = cursor.fetchall()
    connection.rollback()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA,
                        help="where bench.run keeps its generated datasets (default bench/.cache/data)")
    args = parser.parse_args(argv)
    folder = dataset(args.events, args.data)
    dsn = local_postgres.start(CACHE / "pgdata-incremental")
    daily = args.data / f"events-{args.events}-daily"
    full_seconds, first_seconds, day_seconds = [], [], []
    for _ in range(args.repeat):
        full = fresh_warehouse(dsn, "bench_full")
        seconds, _ = timed_run(full, folder, full=True)
        full_seconds.append(seconds)
        warehouse = fresh_warehouse(dsn, "bench_daily")
        first_days(folder, DAYS - 2, daily)
        api.run(warehouse, "postgres", daily, full=True)
        first_days(folder, DAYS - 1, daily)
        seconds, result = timed_run(warehouse, daily, full=False)
        assert result.committed and result.choice.new == 1, result.choice.describe()
        first_seconds.append(seconds)
        first_days(folder, DAYS, daily)
        seconds, day_result = timed_run(warehouse, daily, full=False)
        assert day_result.committed and day_result.choice.new == 1, day_result.choice.describe()
        day_seconds.append(seconds)
        assert star_rows(warehouse) == star_rows(full), "the daily run differs from a full reload"
        full.close()
        warehouse.close()
    full_median, day_median = statistics.median(full_seconds), statistics.median(day_seconds)
    print(f"{args.events:,} events over {DAYS} days, {args.repeat} repeats (medians):")
    print(f"  full reload of the month:          {full_median:7.2f} s")
    print(f"  daily run adding day {DAYS} to {DAYS - 1} days: {day_median:7.2f} s")
    print(f"  (the first daily run after a full load, day {DAYS - 1}: {statistics.median(first_seconds):.2f} s)")
    print(f"  ratio: {day_median / full_median:.1%} of a full reload; the warehouses hold the same rows")
    print(f"\nThe steps of the last daily run (day {DAYS}), from its summary:\n")
    print(summary(day_result).split("\n\n")[0])


if __name__ == "__main__":
    main()
