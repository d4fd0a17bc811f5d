"""How big the embedded server's data folder grows: full reloads, daily runs and failed loads, one after another.

    .venv/bin/python -m bench.disk_use                          # 1,000,000 events, 5 full reloads
    .venv/bin/python -m bench.disk_use --events 100000 --reloads 3
    .venv/bin/python -m bench.disk_use --source DIR --pgdata DIR

It is not part of the test suite. It generates the month of events once
(sparkify/sample_data.py, seed 42, as bench/run.py does) into bench/.cache/data/, or
reads --source, and runs ``etl.py --pgdata P`` as a person would, each run in
a process of its own, so that the server starts and stops with every run as it
does for a user. After each run it prints the size of the data folder, of its
WAL (pg_wal/), in MB, at rest (a server left up by a run killed hard is
stopped first, by a query.py):

1. ``create_tables.py``, then ``--reloads`` full reloads (``etl.py --full``);
2. a full reload that fails: the same source and one more log file whose last
   line is not JSON, so that the load stages nearly everything, then stops;
3. a full reload killed hard (SIGKILL) halfway through;
4. two daily runs that fail (the new day's file ends in a line that is not
   JSON), then the daily run that loads it;
5. a last full reload.

The server's bulk-load settings and how the runs empty their tables are in
docs/design.md (Disk).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sparkify import sample_data

PROJECT_DIR = Path(__file__).resolve().parent.parent
CACHE = PROJECT_DIR / "bench" / ".cache"
SEED, DAYS = 42, 30
BAD_LINE = '{"artist": "cut off'


def folder_bytes(folder: Path) -> int:
    """The bytes the files under ``folder`` take on disk (du), counting each hard link once."""
    seen, total = set(), 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def sizes(pgdata: Path) -> tuple[int, int]:
    """(MB in the whole data folder, MB of it in pg_wal/)."""
    return folder_bytes(pgdata) // 2**20, folder_bytes(pgdata / "pg_wal") // 2**20


def dataset(events: int) -> Path:
    folder = CACHE / "data" / f"events-{events}"
    if not (folder / "log_json_path.json").exists():
        songs = max(1_000, min(100_000, events // 10))
        print(f"generating {events:,} events and {songs:,} songs into {folder} (once)...", file=sys.stderr)
        sample_data.generate(folder, songs=songs, events=events, days=DAYS, seed=SEED, replace=True)
    return folder


def linked_copy(source: Path, into: Path) -> Path:
    """A copy of ``source`` made of hard links (no bytes copied), to add a file to."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(source, into, copy_function=os.link)
    return into


def with_bad_day(source: Path, into: Path, name: str) -> Path:
    """``source`` plus one log file: a copy of its last day whose last line is not JSON."""
    linked_copy(source, into)
    last = sorted((into / "log_data").rglob("*.json"))[-1]
    text = last.read_text(encoding="utf-8").rstrip("\n")
    (last.parent / name).write_text(text + "\n" + BAD_LINE + "\n", encoding="utf-8")
    return into


def without_last_day(source: Path, into: Path) -> tuple[Path, Path]:
    """(``source`` without its last log file, that file)."""
    linked_copy(source, into)
    last = sorted((into / "log_data").rglob("*.json"))[-1]
    kept = into.parent / f"{into.name}-last-day.json"
    shutil.move(last, kept)
    return into, kept


def etl(pgdata: Path, source: Path, *options, kill_after=None) -> tuple[int, float]:
    """Run etl.py; return (exit status, seconds). ``kill_after`` seconds: SIGKILL it then."""
    command = [sys.executable, "etl.py", "--pgdata", str(pgdata), "--source", str(source), "--quiet", *options]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate()
    if process.returncode not in (0, -signal.SIGKILL) and kill_after is None:
        print(f"  (etl.py said: {err.strip().splitlines()[-1] if err.strip() else ''})", file=sys.stderr)
    return process.returncode, time.perf_counter() - started


def at_rest(pgdata: Path):
    """Stop the server if a run left it up (one killed hard does): a query.py, its last user, stops it."""
    if (pgdata / "postmaster.pid").exists():
        subprocess.run([sys.executable, "query.py", "--pgdata", str(pgdata), "SELECT 1"], cwd=PROJECT_DIR,
                       capture_output=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="The embedded data folder's size after full reloads and failed "
                                     "loads, one run after another.")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the generated month")
    parser.add_argument("--source", type=Path, help="a source folder instead of the generated month")
    parser.add_argument("--reloads", type=int, default=5, help="full reloads before the failed loads (default 5)")
    parser.add_argument("--pgdata", type=Path, default=CACHE / "pgdata-disk",
                        help="the data folder to use, deleted first (default bench/.cache/pgdata-disk)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    source = (args.source or dataset(args.events)).resolve()
    work = CACHE / "disk-sources"
    work.mkdir(parents=True, exist_ok=True)
    if args.pgdata.exists():
        shutil.rmtree(args.pgdata)
    created = subprocess.run([sys.executable, "create_tables.py", "--pgdata", str(args.pgdata)], cwd=PROJECT_DIR,
                             capture_output=True, text=True)
    if created.returncode != 0:
        sys.exit(f"create_tables.py failed: {created.stderr.strip()}")
    print(f"source: {source}\n")
    print("| run | exit | seconds | data folder MB | of it pg_wal MB |")
    print("| --- | ---: | ---: | ---: | ---: |")

    def row(label, status, seconds):
        at_rest(args.pgdata)
        total, wal = sizes(args.pgdata)
        print(f"| {label} | {status} | {seconds:.0f} | {total:,} | {wal:,} |", flush=True)

    row("create_tables.py", 0, 0)
    for number in range(1, args.reloads + 1):
        status, seconds = etl(args.pgdata, source, "--full")
        row(f"full reload {number}", status, seconds)
    # Each other source is loaded as its operator would: --replace-source says that it replaces the month.
    bad = with_bad_day(source, work / "bad-full", "2099-12-31-events.json")
    row("full reload failing at its last file", *etl(args.pgdata, bad, "--full", "--replace-source"))
    kill_after = max(1.0, round(seconds * 0.6))  # well into the transform of a reload as long as the last one
    status, seconds = etl(args.pgdata, source, "--full", kill_after=kill_after)
    row(f"full reload killed hard (SIGKILL) after {kill_after:.0f} s", status, seconds)
    shorter, last_day = without_last_day(source, work / "month-but-one")
    row("full reload of the month but its last day", *etl(args.pgdata, shorter, "--full", "--replace-source"))
    bad_day = shorter / "log_data" / last_day.name
    text = last_day.read_text(encoding="utf-8").rstrip("\n")
    for attempt in (1, 2):
        bad_day.write_text(text + "\n" + BAD_LINE + "\n", encoding="utf-8")
        os.utime(bad_day, ns=(attempt * 10**9, attempt * 10**9))  # a new version each time
        row(f"daily run failing at the new day's last line ({attempt})", *etl(args.pgdata, shorter))
    bad_day.unlink()
    shutil.copy2(last_day, bad_day)
    row("daily run loading the new day", *etl(args.pgdata, shorter))
    row("full reload", *etl(args.pgdata, source, "--full", "--replace-source"))


if __name__ == "__main__":
    main()
