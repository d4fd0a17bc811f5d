"""Where a full load's time goes after staging: each statement's seconds, the server's CPU seconds, its plan.

    .venv/bin/python -m bench.plans                              # 1,000,000 events, this checkout's code
    .venv/bin/python -m bench.plans --events 100000 --explain    # and each statement's EXPLAIN (ANALYZE, BUFFERS)
    .venv/bin/python -m bench.plans --code /tmp/other-checkout   # another version of the code, same data

A maintainer's tool, not part of the test suite. It runs one full load
(``api.run``) of a dataset of bench/run.py (generated once into
bench/.cache/data/, or ``--data``) into a fresh schema of the benchmark's
embedded PostgreSQL (bench/.cache/pgdata), and times every statement the
run's connection sends after staging's first ANALYZE: wall seconds, and the
CPU seconds of the PostgreSQL backend that ran it (its utime + stime in
/proc, read before and after; a parallel worker's CPU is not in them). On a
machine shared with other work the CPU seconds are the steadier figure.

With ``--explain``, each SELECT, INSERT, WITH, UPDATE or DELETE is first run
as EXPLAIN (ANALYZE, BUFFERS) inside a savepoint that is rolled back, then
for real (the timed run); the report lists the plans too.

``--code`` runs another checkout's sql_queries.py and sparkify/ (a
``git worktree`` or ``git archive`` of another revision) on the same data and
server, to compare two versions statement by statement.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache"
SCHEMA = "plans"
PLANNED = ("SELECT", "INSERT", "WITH", "DELETE", "UPDATE")
TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid) -> float:
    """The CPU seconds (user + system) the server process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15 of proc(5)


def run_elsewhere(code: Path, argv) -> int:
    """This script on the modules of the checkout ``code`` (its sparkify/, sql_queries.py, bench/run.py):
    run in a process of its own from that folder, where they come first on the import path."""
    rest, skip = [], False
    for argument in argv:  # the same options, less --code
        if skip or argument == "--code":
            skip = not skip and argument == "--code"
            continue
        if not argument.startswith("--code="):
            rest.append(argument)
    if "--data" not in rest and not any(argument.startswith("--data=") for argument in rest):
        rest += ["--data", str(CACHE / "data")]  # this checkout's datasets, not generated again there
    environment = {**os.environ, "PYTHONPATH": str(code)}
    return subprocess.run([sys.executable, __file__, *rest], cwd=code, env=environment).returncode


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.plans", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the dataset's events (default 1,000,000)")
    parser.add_argument("--data", type=Path, help="where the generated datasets are kept (default bench/.cache/data)")
    parser.add_argument("--code", type=Path, help="a checkout of the code to run (default this one)")
    parser.add_argument("--explain", action="store_true", help="also run and list each statement's plan")
    parser.add_argument("--output", type=Path, help="also write the report there")
    parser.add_argument("--keep", action="store_true",
                        help=f"keep the loaded schema ({SCHEMA}) afterwards, to try statements on it by hand")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.code:
        return run_elsewhere(args.code.resolve(), sys.argv[1:] if argv is None else argv)
    import psycopg2
    import psycopg2.extensions

    from bench.run import dataset
    from sparkify import api
    from sparkify.engines import embedded

    try:
        folder = dataset(args.events, args.data)
    except TypeError:  # an older checkout's dataset() takes the events only: link its bench/.cache/data to --data
        folder = dataset(args.events)
    seen = []  # (wall seconds, CPU seconds, statement, plan lines or None)
    state = {"after_analyze": False, "pid": None}

    class Cursor(psycopg2.extensions.cursor):
        def execute(self, query, variables=None):
            text = query if isinstance(query, str) else query.decode()
            first = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
            if first == "ANALYZE":
                state["after_analyze"] = True
            if not state["after_analyze"] or first == "ANALYZE":
                return super().execute(query, variables)
            plan = None
            if args.explain and first in PLANNED:
                super().execute("SAVEPOINT plans")
                super().execute("EXPLAIN (ANALYZE, BUFFERS) " + text, variables)
                plan = [row[0] for row in self.fetchall()]
                super().execute("ROLLBACK TO SAVEPOINT plans")
                super().execute("RELEASE SAVEPOINT plans")
            cpu, started = backend_cpu(state["pid"]), time.perf_counter()
            result = super().execute(query, variables)
            seen.append((time.perf_counter() - started, backend_cpu(state["pid"]) - cpu, " ".join(text.split()), plan))
            return result

    class Connection(psycopg2.extensions.connection):
        def cursor(self, *a, **kwargs):
            kwargs.setdefault("cursor_factory", Cursor)
            return super().cursor(*a, **kwargs)

    dsn = embedded.start(CACHE / "pgdata", "bench")
    with psycopg2.connect(dsn) as setup, setup.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
    connection = psycopg2.connect(dsn, options=f"-c search_path={SCHEMA}", connection_factory=Connection)
    state["pid"] = connection.get_backend_pid()
    api.create_tables(connection, "postgres")
    started = time.perf_counter()
    result = api.run(connection, "postgres", str(folder))
    whole = time.perf_counter() - started
    connection.close()
    if not args.keep:
        with psycopg2.connect(dsn) as setup, setup.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    star = [item for item in seen if "loaded_files" not in item[2]]  # the ledger's rows are not the transform's
    lines = [
        f"code: {Path(api.__file__).resolve().parent.parent}; dataset: {folder.name}; committed: {result.committed}",
        f"whole run {whole:.1f} s{' (each planned statement ran twice)' if args.explain else ''}; "
        f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}",
        f"after staging (transform, keys, checks): {sum(i[0] for i in star):.2f} s wall, "
        f"{sum(i[1] for i in star):.2f} s backend CPU",
        "",
        "  wall s    CPU s  statement (slowest CPU first)",
    ]
    ranked = sorted(seen, key=lambda item: -item[1])
    lines += [f"{wall:8.2f} {cpu:8.2f}  {statement[:150]}" for wall, cpu, statement, _ in ranked]
    for wall, cpu, statement, plan in ranked:
        if plan:
            lines += ["", "", f"=== {wall:.2f} s, {cpu:.2f} s CPU", statement, "", *plan]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:  # the folder is there: bench.final made it, or the person typing the path
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
