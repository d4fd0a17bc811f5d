"""query.py on a large result: time to the first line and peak memory under `| head -3`, and the whole result
to /dev/null, for the table and for --csv (issue: a 10-million-row query took 2.8 GB and 8 s before its first
line). The runs share an embedded PostgreSQL kept up by `query.py --serve` (its start is not measured).

    .venv/bin/python -m bench.query_stream                 # 10,000,000 rows (a few minutes)
    .venv/bin/python -m bench.query_stream --rows 1000000
"""

import argparse
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SQL = "SELECT g, md5(g::text) FROM generate_series(1, {rows}) g"


def run(argv, head: bool) -> dict:
    """One query.py run in a process of its own: seconds to the first line (with head), to the end, peak RSS."""
    code = f"""
import resource, subprocess, sys, time
started = time.monotonic()
run = subprocess.Popen({argv!r}, cwd={str(PROJECT_DIR)!r}, stdout=subprocess.PIPE if {head} else subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
first = None
if {head}:
    run.stdout.readline()
    first = time.monotonic() - started
    run.stdout.readline(), run.stdout.readline()
    run.stdout.close()
status = run.wait()
print(first, time.monotonic() - started, status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
    first, total, status, rss = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.split()
    return {"first line s": None if first == "None" else round(float(first), 2), "end s": round(float(total), 2),
            "exit": int(status), "peak MB": int(rss) // 1024}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen([sys.executable, "query.py", "--serve", "--pgdata", str(Path(folder) / "pgdata")],
                                  cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            dsn = server.stdout.readline().split(": ", 1)[1].strip()  # "Serving the embedded PostgreSQL: DSN"
            base = [sys.executable, "query.py", "--dsn", dsn]
            sql = SQL.format(rows=args.rows)
            for name, form in (("csv", ["--csv"]), ("table", [])):
                print(f"{name:5}  | head -3  ", run([*base, *form, sql], head=True), flush=True)
                print(f"{name:5}  > /dev/null", run([*base, *form, sql], head=False), flush=True)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)

if __name__ == "__main__":
    main()
