"""The benchmark: staging, the transform, end to end, memory and S3, side by side with the raw COPY ceiling.

    .venv/bin/python -m bench.run                          # 100,000 and 1,000,000 events, 3 repeats
    .venv/bin/python -m bench.run --quick                  # a smoke check, under a minute
    .venv/bin/python -m bench.run --sizes 10000000         # ten million events, 1 repeat

Run it from the project's root, as a module (``-m``), so that etl.py and
sparkify/ are importable.

It is not part of the test suite. What it does:

1. Generates each dataset with the project's generator (sparkify/sample_data.py)
   into bench/.cache/data/ (or --data), once: N events over 30 days and N/10
   song files (at least 1,000, at most 100,000), seed 42. A dataset already
   there is reused.
2. Starts an embedded PostgreSQL of its own in bench/.cache/pgdata (the
   project's .pgdata is left alone).
3. Prepares, outside any timing, the raw COPY ceiling's input: the dataset's
   events staged once by our loader and written out as CSV, so the ceiling
   streams exactly the same rows.
4. Runs every measurement ``--repeat`` times, interleaved, each in a process
   of its own (its peak resident memory is read with GNU time) and each on a
   fresh schema, and prints a Markdown table of the medians, then how cost
   grows with size.

The per-row INSERT loop and pandas' to_sql run on the first 100,000 events
(fewer with --quick) and are extrapolated linearly to the dataset: the table
says so.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

from sparkify import sample_data
from sparkify.engines import embedded as local_postgres

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache"

SEED = 42
DAYS = 30
DATABASE = "bench"
E2E_DATABASE = "bench_e2e"
SUBSET = 100_000  # events for the per-row INSERT loop and to_sql
S3_OBJECTS = 2_000
S3_LATENCY = 0.03
MEASURE = "bench.measure"  # run as a module, in the project's root
TIME_COMMAND = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for each child's own peak memory

# The targets
CEILING_RATIO_TARGET = 1.3  # staging the events, against the raw COPY ceiling
SONG_FILES_PER_SECOND_TARGET = 50_000
TRANSFORM_TARGET_SECONDS = 4.0  # the five tables, the keys and the checks
END_TO_END_RATIO_TARGET = 3.5  # create_tables.py then etl.py, against the ceiling
TARGET_EVENTS = 1_000_000  # the size the time targets are set for
MEMORY_TARGET_MB = 300
S3_SPEEDUP_TARGET = 8.0
LARGE = 10_000_000  # from this size on, each measurement runs once unless --repeat says otherwise
TRANSFORM_TOTAL = "transform: five tables, keys, checks"  # bench/measure.py's name for the part

def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------


def song_count(events):
    return max(1_000, min(100_000, events // 10))


DATA = CACHE / "data"  # where the generated datasets are kept (--data)


def dataset(events, data=None) -> Path:
    """The generated source for ``events`` events, generated once into ``data`` and reused after."""
    songs = song_count(events)
    folder = Path(data or DATA) / f"events-{events}-songs-{songs}-seed-{SEED}"
    if not (folder / ".complete").exists():
        log(f"generating {events:,} events and {songs:,} song files into {folder} (once)...")
        started = time.perf_counter()
        sample_data.generate(folder, songs=songs, events=events, days=DAYS, seed=SEED, replace=True)
        (folder / ".complete").write_text("generated\n")
        log(f"generated in {time.perf_counter() - started:.1f} s")
    return folder


def ceiling_csv(dsn, folder: Path) -> Path:
    """The dataset's events as staged by our loader, flattened to CSV once (not timed)."""
    path = folder.parent / f"{folder.name}.staging_events.csv"
    if path.exists():
        return path
    log(f"flattening {folder.name} to CSV for the ceiling (once)...")
    run_measure({"method": "loader", "dsn": dsn, "dataset": str(folder), "prefix": "log_data",
                 "schema": "bench_prepare", "keep": True})
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor, open(f"{path}.part", "wb") as out:
            cursor.copy_expert("COPY bench_prepare.staging_events TO STDOUT (FORMAT csv)", out)
            cursor.execute("DROP SCHEMA bench_prepare CASCADE")
        connection.commit()
    finally:
        connection.close()
    os.replace(f"{path}.part", path)
    return path


# ---------------------------------------------------------------------------
# Running a measurement
# ---------------------------------------------------------------------------


def run_child(command, env=None):
    """Run ``command``; return (wall seconds, peak resident MB, exit code, output).

    The peak comes from /usr/bin/time (GNU time, %M). Not from os.wait4 or
    RUSAGE_CHILDREN here: on Linux a child's ru_maxrss starts at the RSS of the
    process that forked it (exec keeps the old high-water mark), which for
    this script is some 50 MB, more than several measurements use. time(1)
    is small, so what it reports is the child's own. Without it, the wait4
    figure is given, an upper bound.
    """
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as peak_file:
        if TIME_COMMAND:
            command = [TIME_COMMAND, "-f", "%M", "-o", peak_file.name, *command]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_DIR)
        tree = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        tree_kb = tree.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
        peak_kb = usage.ru_maxrss
        if TIME_COMMAND:
            lines = Path(peak_file.name).read_text().split()
            peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kb
    return seconds, max(peak_kb, tree_kb) / 1024, process.returncode, output


class TreeMemory:
    """The largest sum of resident memory of a process and all its descendants, sampled.

    The loader's worker processes are not the measured process's children
    (they fork from multiprocessing's server process), so neither time(1) nor
    wait4 sees them: this adds them up, every 20 ms, from /proc. Pages the
    processes share are counted in each, so the figure errs high. Finding the
    descendants reads every process's stat file, which costs more than the
    sampling: it is done every ``TREE_EVERY`` samples only (a worker lives
    for seconds), so that the sampler does not take CPU from what it measures.
    """

    TREE_EVERY = 10

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak_kb

    def _sample(self, interval):
        page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        samples = 0
        tree = ()
        while not self._done.wait(interval):
            if samples % self.TREE_EVERY == 0:
                tree = self._tree()
            samples += 1
            total = 0
            for pid in tree:
                try:
                    with open(f"/proc/{pid}/statm") as statm:
                        total += int(statm.read().split()[1]) * page_kb
                except (OSError, IndexError, ValueError):
                    pass  # it ended meanwhile
            self.peak_kb = max(self.peak_kb, total)

    def _tree(self):
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        tree = {self.pid}
        changed = True
        while changed:
            changed = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        return tree


def run_measure(args, env=None):
    """One measurement in its own process: its JSON result, plus peak_mb."""
    args = {"schema": f"bench_{args['method']}", **args}
    _, peak_mb, code, output = run_child([sys.executable, "-m", MEASURE, json.dumps(args)], env=env)
    if code != 0:
        raise RuntimeError(f"measurement {args['method']} failed (exit {code}):\n{output[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_mb"] = peak_mb
    return result


def checkpoint(dsn):
    """Write out the previous measurement's dirty pages first, so that it does not bill the next one.

    Then wait for the kernel to write them to disk too (os.sync): without it,
    the writeback of one measurement's 300 MB overlapped the next, and five
    back-to-back runs of the same loader took 2.99 to 3.93 s (2.75 to 3.02 s
    with it; the ceiling 2.05 to 2.95 s, then 1.91 to 2.20 s).
    """
    connection = psycopg2.connect(dsn)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    finally:
        connection.close()
    os.sync()


def end_to_end(dsn, folder):
    """create_tables.py then etl.py, as the README runs them: wall time of both, peak memory of etl.py.

    Each repeat starts from empty tables: --drop-data, since the previous one left them loaded.
    """
    python = sys.executable
    create_seconds, _, code, output = run_child([python, "create_tables.py", "--dsn", dsn, "--quiet", "--drop-data"])
    if code != 0:
        raise RuntimeError(f"create_tables.py failed:\n{output}")
    etl_seconds, peak_mb, code, output = run_child(
        [python, "etl.py", "--dsn", dsn, "--source", str(folder), "--quiet"]
    )
    if code != 0:
        raise RuntimeError(f"etl.py failed:\n{output[-3000:]}")
    return {"seconds": create_seconds + etl_seconds, "etl_seconds": etl_seconds, "peak_mb": peak_mb}


# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------


def s3_env(endpoint):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    return env


def measure_s3(folder, objects, repeat, latency):
    """S3Source's read-ahead against one GET at a time, on a moto server with added latency."""
    log(f"S3: moto on 127.0.0.1 with {latency * 1000:.0f} ms per request, {objects:,} objects")
    server = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "s3_server.py"), "--latency", str(latency)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=PROJECT_DIR,
    )
    try:
        port = int(server.stdout.readline().split()[1])
        endpoint = f"http://127.0.0.1:{port}"
        env = s3_env(endpoint)
        common = {"endpoint": endpoint, "bucket": "bench", "dataset": str(folder), "objects": objects}
        run_measure({"method": "s3_setup", **common}, env)
        results = {"s3_sequential": [], "s3_read_ahead": []}
        for index in range(repeat):
            for method in results:
                result = run_measure({"method": method, **common}, env)
                log(f"  {method} #{index + 1}: {result['seconds']:.2f} s")
                results[method].append(result)
        return results
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


METHODS = [
    "ceiling", "parse_orjson", "parse_json", "loader_events", "loader_songs", "insert_loop", "to_sql",
    "etl_run", "end_to_end",
]


def measure_dataset(dsn, e2e_dsn, folder, events, repeat, subset, methods):
    base = {"dsn": dsn, "dataset": str(folder)}
    plan = {
        "ceiling": lambda: {"method": "ceiling", "csv": str(ceiling_csv(dsn, folder))},
        "parse_orjson": lambda: {"method": "parse_orjson"},
        "parse_json": lambda: {"method": "parse_json"},
        "loader_events": lambda: {"method": "loader", "prefix": "log_data"},
        "loader_songs": lambda: {"method": "loader", "prefix": "song_data"},
        "insert_loop": lambda: {"method": "insert_loop", "subset": subset},
        "to_sql": lambda: {"method": "to_sql", "subset": subset},
        "etl_run": lambda: {"method": "etl_run"},
    }
    results = {name: [] for name in methods}
    for index in range(repeat):
        for name in methods:
            checkpoint(dsn)
            if name == "end_to_end":
                result = end_to_end(e2e_dsn, folder)
            else:
                result = run_measure({**base, **plan[name]()})
            log(f"{events:,} events, {name} #{index + 1}: {result['seconds']:.2f} s, {result['peak_mb']:.0f} MB")
            results[name].append(result)
    return results


def median(results, key="seconds"):
    return statistics.median(result[key] for result in results)


def peak(results):
    return max(result["peak_mb"] for result in results)


def verdict(met, detail):
    return f"{'met' if met else '**NOT met**'}: {detail}"


def at_target_size(events, met, detail):
    """A time target, which the issue sets for 1,000,000 events."""
    if events != TARGET_EVENTS:
        return f"({detail} is set for 1,000,000 events)"
    return verdict(met, detail)


def table_rows(events, results):
    """The Markdown rows of one dataset, for the methods that ran."""
    rows = []
    label = f"{events:,} events"
    ceiling = median(results["ceiling"]) if "ceiling" in results else None

    def add(method, seconds, count, unit="rows/s", ratio=True, peak_mb=None, target=""):
        rate = f"{count / seconds:,.0f} {unit}" if seconds and count else ""
        ratio_text = f"{seconds / ceiling:.2f}x" if ratio and ceiling else ""
        memory = f"{peak_mb:.0f}" if peak_mb is not None else ""
        rows.append(f"| {label} | {method} | {seconds:.2f} | {rate} | {ratio_text} | {memory} | {target} |")

    simple = {
        "ceiling": "raw COPY ceiling (pre-flattened CSV, COPY FROM STDIN)",
        "parse_orjson": "JSON parse alone: orjson.loads per line (no database)",
        "parse_json": "JSON parse alone: stdlib json.loads per line (no database)",
    }
    for name, text in simple.items():
        if name in results:
            add(text, median(results[name]), results[name][0]["rows"], peak_mb=peak(results[name]))
    if "loader_events" in results:
        seconds = median(results["loader_events"])
        target = ""
        if ceiling and events != TARGET_EVENTS:
            target = f"(≤ {CEILING_RATIO_TARGET}x the ceiling is set for 1,000,000 events)"
        elif ceiling:
            ratio = seconds / ceiling
            target = verdict(ratio <= CEILING_RATIO_TARGET, f"≤ {CEILING_RATIO_TARGET}x the ceiling, is {ratio:.2f}x")
        add("our loader: stage_source, events", seconds, results["loader_events"][0]["rows"],
            peak_mb=peak(results["loader_events"]), target=target)
    if "loader_songs" in results:
        seconds = median(results["loader_songs"])
        files = results["loader_songs"][0]["rows"]
        target = f"≥ {SONG_FILES_PER_SECOND_TARGET:,} files/s"
        if files >= 100_000:
            target = verdict(files / seconds >= SONG_FILES_PER_SECOND_TARGET, target)
        else:
            target = f"({target} is set for 100,000 files)"
        add(f"our loader: stage_source, {files:,} song files", seconds, files, unit="files/s", ratio=False,
            peak_mb=peak(results["loader_songs"]), target=target)
    for name, text in (("insert_loop", "tutorial per-row INSERT loop (json.loads + cursor.execute)"),
                       ("to_sql", "pandas DataFrame.to_sql (SQLAlchemy, chunksize 10,000)")):
        if name in results:
            measured = results[name][0]["rows"]
            if measured < events:
                text += f", **extrapolated** from {measured:,} events"
            add(text, median(results[name]) * events / measured, events, peak_mb=peak(results[name]))
    if "etl_run" in results:
        runs = results["etl_run"]
        for name in runs[0]["parts"]:
            seconds = statistics.median(run["parts"][name] for run in runs)
            target = ""
            if name == TRANSFORM_TOTAL:
                target = at_target_size(events, seconds < TRANSFORM_TARGET_SECONDS,
                                        f"< {TRANSFORM_TARGET_SECONDS:.0f} s")
            add(f"api.run in process: {name}", seconds, runs[0]["part_rows"].get(name) or 0, ratio=False,
                target=target)
        add("api.run in process: whole run", median(runs), events, ratio=False, peak_mb=peak(runs))
    if "end_to_end" in results:
        seconds = median(results["end_to_end"])
        memory = peak(results["end_to_end"])
        target = ""
        if ceiling:
            ratio = seconds / ceiling
            detail = f"≤ {END_TO_END_RATIO_TARGET}x the ceiling"
            if events == TARGET_EVENTS:
                detail += f", is {ratio:.2f}x"
            target = at_target_size(events, ratio <= END_TO_END_RATIO_TARGET, detail) + "; "
        target += verdict(memory < MEMORY_TARGET_MB, f"peak RSS of etl.py < {MEMORY_TARGET_MB} MB")
        add("end to end: create_tables.py then etl.py (subprocesses; peak RSS of etl.py)", seconds, events,
            peak_mb=memory, target=target)
    return rows


def growth_rows(by_size):
    """How cost grows with the data: one row per size, for the methods that ran at each, and whether
    the transform's and the whole run's cost per event stayed at or below the 1,000,000-event one."""
    columns = {
        "loader": lambda results: median(results["loader_events"]) if "loader_events" in results else None,
        "transform": lambda results: (statistics.median(run["parts"][TRANSFORM_TOTAL] for run in results["etl_run"])
                                      if "etl_run" in results else None),
        "api.run": lambda results: median(results["etl_run"]) if "etl_run" in results else None,
        "end to end": lambda results: median(results["end_to_end"]) if "end_to_end" in results else None,
    }
    rows = []
    per_event = {}
    for events, results in by_size.items():
        cells = [f"{events:,}"]
        for name, seconds_of in columns.items():
            seconds = seconds_of(results)
            cells += ["", ""] if seconds is None else [f"{seconds:.2f}", f"{seconds / events * 1e6:.2f}"]
            if seconds is not None:
                per_event[(name, events)] = seconds / events * 1e6
        cells.append(f"{peak(results['end_to_end']):.0f}" if "end_to_end" in results else "")
        rows.append("| " + " | ".join(cells) + " |")
    header = "| events | " + " | ".join(f"{name} s | {name} µs/event" for name in columns) + " | etl.py peak MB |"
    lines = [header, "| ---: " * (2 * len(columns) + 2) + "|", *rows]
    for events in by_size:
        if events <= TARGET_EVENTS:
            continue
        for name in ("transform", "end to end"):
            if (name, events) in per_event and (name, TARGET_EVENTS) in per_event:
                now, base = per_event[(name, events)], per_event[(name, TARGET_EVENTS)]
                lines.append(f"\n{name} at {events:,} events: {now:.2f} µs an event against {base:.2f} at "
                             f"1,000,000: " + verdict(now <= base, "no more per event"))
    return lines


def s3_rows(results, objects, latency):
    sequential = median(results["s3_sequential"])
    ahead = median(results["s3_read_ahead"])
    speedup = sequential / ahead
    label = f"{objects:,} S3 objects, +{latency * 1000:.0f} ms/request"
    target = verdict(speedup >= S3_SPEEDUP_TARGET, f"≥ {S3_SPEEDUP_TARGET:.0f}x one-at-a-time, is {speedup:.1f}x")
    if objects != S3_OBJECTS:
        target = f"(≥ {S3_SPEEDUP_TARGET:.0f}x one-at-a-time is set for {S3_OBJECTS:,} objects; is {speedup:.1f}x)"
    return [
        f"| {label} | boto3, one GET after the other | {sequential:.2f} | {objects / sequential:,.0f} objects/s |  "
        f"| {peak(results['s3_sequential']):.0f} |  |",
        f"| {label} | S3Source read-ahead (64 threads) | {ahead:.2f} | {objects / ahead:,.0f} objects/s |  "
        f"| {peak(results['s3_read_ahead']):.0f} | {target} |",
    ]


def machine_line(dsn):
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
    finally:
        connection.close()
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"Python {platform.python_version()}, {version} (embedded, default settings), {platform.system()}")


def revision():
    """The project's commit, and whether the working tree differs from it."""
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=PROJECT_DIR,
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return described.stdout.strip() or "not a git checkout"


def loadavg():
    return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke check under a minute: 20,000 events, 1 repeat, small subsets, 200 S3 objects")
    parser.add_argument("--sizes", help="event counts, comma-separated (default 100000,1000000)")
    parser.add_argument("--repeat", type=int, help="times each measurement runs; the median is shown "
                        f"(default 3, and 1 for a size of {LARGE:,} events or more)")
    parser.add_argument("--data", type=Path, default=DATA,
                        help="where the generated datasets are kept and reused (default bench/.cache/data): "
                        "a folder that already holds one is read, not generated again")
    parser.add_argument("--subset", type=int, help=f"events for the INSERT loop and to_sql (default {SUBSET:,})")
    parser.add_argument("--s3-objects", type=int, help=f"objects for the S3 comparison (default {S3_OBJECTS:,}; "
                        "0 skips it)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"which measurements to run, comma-separated (default all: {','.join(METHODS)})")
    parser.add_argument("--s3-latency", type=float, default=S3_LATENCY, help="seconds added to each S3 request")
    parser.add_argument("--output", type=Path, default=CACHE / "results.md", help="also write the table here")
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {"sizes": "20000", "repeat": 1, "subset": 5_000, "s3_objects": 200}
    else:
        defaults = {"sizes": "100000,1000000", "subset": SUBSET, "s3_objects": S3_OBJECTS}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    args.methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown --methods {', '.join(sorted(unknown))}: choose among {', '.join(METHODS)}")
    return args


def repeats(asked, events) -> int:
    """How many times each measurement of a size runs: as asked, else 3, and 1 from LARGE events on."""
    return asked or (1 if events >= LARGE else 3)


def described_repeats(asked, sizes) -> str:
    counts = sorted({repeats(asked, events) for events in sizes}, reverse=True)
    if len(counts) == 1:
        return f"median of {counts[0]} run(s)"
    return f"median of {counts[0]} runs below {LARGE:,} events, 1 run at {LARGE:,} or more"


def main(argv=None):
    args = parse_args(argv)
    began = time.perf_counter()
    started_at = datetime.datetime.now(datetime.UTC)
    load_before = loadavg()
    for events in args.sizes:
        dataset(events, args.data)
    log("starting the benchmark's embedded PostgreSQL in bench/.cache/pgdata...")
    pgdata = CACHE / "pgdata"
    dsn = local_postgres.start(pgdata, DATABASE)
    e2e_dsn = local_postgres.start(pgdata, E2E_DATABASE)
    rows = []
    by_size = {}
    for events in args.sizes:
        by_size[events] = measure_dataset(dsn, e2e_dsn, dataset(events, args.data), events,
                                          repeats(args.repeat, events), min(args.subset, events), args.methods)
        rows += table_rows(events, by_size[events])
    if args.s3_objects:
        big_enough = [n for n in args.sizes if song_count(n) >= args.s3_objects]
        folder = dataset(min(big_enough) if big_enough else max(args.sizes), args.data)
        s3 = measure_s3(folder, args.s3_objects, repeats(args.repeat, max(args.sizes)), args.s3_latency)
        rows += s3_rows(s3, args.s3_objects, args.s3_latency)
    header = [
        f"Run {started_at:%Y-%m-%d %H:%M} UTC, `{' '.join(['python -m bench.run', *sys.argv[1:]])}` "
        f"on {revision()}, {described_repeats(args.repeat, args.sizes)}, {time.perf_counter() - began:.0f} s in all.",
        f"Machine: {machine_line(dsn)}. Load: {load_before} at the start, {loadavg()} at the end.",
        "",
        "| dataset | method | median s | rows/s | ratio to ceiling | peak memory MB | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    footer = [
        "",
        "Peak memory: the larger of the measuring process's own peak (GNU time %M) and the largest sum of "
        "it and its descendants, the loader's worker processes, sampled every 20 ms (shared pages counted "
        "in each); the PostgreSQL server's not included. Extrapolated rows: measured on the first events "
        "only, scaled linearly.",
        "",
        "How cost grows with the data (medians):",
        "",
        *growth_rows(by_size),
    ]
    text = "\n".join(header + rows + footer) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
