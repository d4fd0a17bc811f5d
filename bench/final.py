"""The whole benchmark in one command: every figure of bench/README.md, and the targets against them.

    .venv/bin/python -m bench.final                  # 100,000, 1,000,000 and 10,000,000 events, the daily run, plans
    .venv/bin/python -m bench.final --quick          # 20,000 events, once: checks that it all runs (a few minutes)
    .venv/bin/python -m bench.final --before v1.2    # also the plans of another revision, for a before/after

It is not part of the test suite. Run it on a machine doing nothing else: it
takes about twenty minutes on 2 cores, most of it at ten million events, plus
the first generation of each dataset (bench/README.md says how long; a
generated set is reused, and ``--data`` points at one kept elsewhere). It
writes, into
bench/.cache/final/<UTC time>/ (or ``--output``):

- ``machine.txt``: the cores, memory, disk, Python, kernel, and the load
  average at the start and the end (a busy machine makes every figure slower);
- ``bench-run.md``: ``python -m bench.run`` at the sizes, with the ratios to
  the ceiling and how cost grows with size;
- ``daily.md``: ``python -m bench.incremental_day``, a daily run's share of a
  full reload;
- ``plans-<revision>.txt``: ``python -m bench.plans --explain`` at a million
  events, each statement after staging with its seconds and plan, slowest first;
- ``floor.md``: ``python -m bench.floor`` at a million events, the least any
  transform writes and builds, against the transform's target;
- ``targets.md``: the targets of bench/README.md against the figures.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.run import CACHE, DATA, END_TO_END_RATIO_TARGET, TRANSFORM_TARGET_SECONDS, loadavg, revision

PROJECT_DIR = CACHE.parent.parent
SIZES = "100000,1000000,10000000"
PLAN_EVENTS = 1_000_000
DAILY_TARGET = 0.08  # a daily run of one day on a month, against a full reload


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.final", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, once: a smoke check")
    parser.add_argument("--data", type=Path, default=DATA, help="where the generated datasets are kept and reused")
    parser.add_argument("--before", metavar="REVISION",
                        help="also capture the plans of this git revision (e.g. origin/main), on the same data")
    parser.add_argument("--output", type=Path, help="the folder to write (default bench/.cache/final/<UTC time>)")
    return parser.parse_args(argv)


def step(message):
    print(f"== {message} ({datetime.datetime.now(datetime.UTC):%H:%M} UTC)", file=sys.stderr, flush=True)


def module(name, *arguments, output=None):
    """``python -m name arguments`` in the project's root; its standard output, also written to ``output``."""
    done = subprocess.run([sys.executable, "-m", name, *map(str, arguments)], cwd=PROJECT_DIR,
                          stdout=subprocess.PIPE, text=True, check=True)
    if output:
        output.write_text(done.stdout)
    return done.stdout


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    disk = shutil.disk_usage(PROJECT_DIR).total / 2**30
    return "\n".join([
        f"code: {revision()}",
        f"cpu: {os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        f"memory: {memory:.0f} GB; disk holding the project: {disk:.0f} GB",
        f"python: {platform.python_version()}; kernel: {platform.system()} {platform.release()}",
        f"load average at the start: {loadavg()}",
    ]) + "\n"


def revision_tree(rev, folder: Path) -> Path:
    """The files of git revision ``rev``, unpacked into ``folder``."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                             check=True).stdout
    with tempfile.TemporaryFile() as tar:
        tar.write(archive)
        tar.seek(0)
        tarfile.open(fileobj=tar).extractall(folder, filter="data")
    return folder


def targets(run: str, daily: str, floor: str = "") -> str:
    """bench.run's verdicts, its growth table, the daily run's share and the floor, against the targets."""
    lines = [f"Targets bench.run marks (transform under {TRANSFORM_TARGET_SECONDS:g} s and end to end within "
             f"{END_TO_END_RATIO_TARGET:g}x the ceiling at a million events; staging within 1.3x):", ""]
    for line in run.splitlines():
        if line.startswith("|") and re.search(r"\bmet\b", line):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            lines.append(f"- {cells[0]} / {cells[1]}: {cells[2]} s, ratio {cells[4] or '-'}: {cells[-1]}")
    growth = run[run.find("How cost grows"):].strip()
    lines += ["", "Linear cost (microseconds per event at ten million no worse than at one million; memory flat):",
              "", growth or "(no growth table)"]
    share = re.search(r"ratio: ([\d.]+)%", daily)
    if share:
        met = float(share.group(1)) / 100 <= DAILY_TARGET
        lines += ["", f"Daily run: {share.group(1)}% of a full reload: {'met' if met else 'NOT met'} "
                  f"(target {DAILY_TARGET:.0%} at most)"]
    else:
        lines += ["", "Daily run: no ratio in daily.md"]
    verdict = re.search(r"^The transform's target .*$", floor, re.MULTILINE)
    lines += ["", f"Floor: {verdict.group(0) if verdict else 'no floor measured'}"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%MZ")
    out = args.output or CACHE / "final" / stamp
    out.mkdir(parents=True, exist_ok=True)
    sizes, plan_events, run_extra, daily_extra, floor_extra = SIZES, PLAN_EVENTS, [], ["--repeat", 3], []
    if args.quick:
        sizes, plan_events = "20000", 20_000
        run_extra, daily_extra = ["--repeat", 1, "--s3-objects", 200], ["--events", 20_000, "--repeat", 1]
        floor_extra = ["--repeat", 1]
    (out / "machine.txt").write_text(machine())
    step(f"1/5 bench.run --sizes {sizes}")
    module("bench.run", "--sizes", sizes, "--data", args.data, *run_extra, "--output", out / "bench-run.md")
    step("2/5 bench.incremental_day")
    daily = module("bench.incremental_day", "--data", args.data, *daily_extra, output=out / "daily.md")
    step(f"3/5 plans at {plan_events:,} events")
    module("bench.plans", "--events", plan_events, "--data", args.data, "--explain",
           "--output", out / "plans-this-checkout.txt")
    if args.before:
        with tempfile.TemporaryDirectory() as folder:
            module("bench.plans", "--events", plan_events, "--data", args.data, "--explain",
                   "--code", revision_tree(args.before, Path(folder)),
                   "--output", out / f"plans-{re.sub(r'[^A-Za-z0-9._-]', '-', args.before)}.txt")
    step(f"4/5 floor at {plan_events:,} events")
    floor = module("bench.floor", "--events", plan_events, "--data", args.data, *floor_extra, output=out / "floor.md")
    step("5/5 targets")
    report = targets((out / "bench-run.md").read_text(), daily, floor)
    (out / "targets.md").write_text(report)
    with open(out / "machine.txt", "a") as notes:
        notes.write(f"load average at the end: {loadavg()}\n")
    print(report)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
