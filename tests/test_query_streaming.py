"""query.py streams a result: the first rows are out before the server has computed the last, memory stays flat
whatever the number of rows, and output that cannot be written (`| head -1`, a full disk) ends it in one line with
exit status 3, committing nothing."""

import select
import signal
import subprocess
import sys

import pytest
from helpers import PROJECT_DIR

QUERY = [sys.executable, "query.py"]
# 9,000 rows whose last takes a minute to compute: a tool that reads the whole result first shows nothing for a minute
SLOW_LAST_ROW = "SELECT g, CASE WHEN g = 9000 THEN pg_sleep(60)::text END AS pause FROM generate_series(1, 9000) g"


@pytest.mark.parametrize("form", ["table", "csv"])
def test_the_first_rows_are_out_before_the_last_is_computed(warehouse, environment, form):
    command = [*QUERY, "--dsn", warehouse.dsn, *(["--csv"] if form == "csv" else []), SLOW_LAST_ROW]
    run = subprocess.Popen(command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([run.stdout], [], [], 30)
        assert ready, "no row within 30 s"
        first = run.stdout.readline()
        assert first.split()[0].startswith("g"), first
    finally:
        run.send_signal(signal.SIGTERM)  # cancels the statement, as every script does
        run.communicate(timeout=60)
    assert run.returncode == 143


MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_kib(environment, *args):
    """The peak resident memory of one query.py run, in KiB."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *QUERY, *args], cwd=PROJECT_DIR, env=environment,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.parametrize("form", [[], ["--csv"]], ids=["table", "csv"])
def test_memory_stays_flat_whatever_the_number_of_rows(warehouse, environment, form):
    rows = "SELECT g, md5(g::text) AS hash FROM generate_series(1, {}) g"
    small = peak_kib(environment, "--dsn", warehouse.dsn, *form, rows.format(10))
    large = peak_kib(environment, "--dsn", warehouse.dsn, *form, rows.format(400_000))
    # read whole, 400,000 rows take 100 MB and more (a Python tuple and two strings each)
    assert large - small < 30_000, f"{small} KiB for 10 rows, {large} KiB for 400,000"


def shell(command, environment):
    return subprocess.run(["bash", "-c", command], cwd=PROJECT_DIR, env=environment, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("form", ["", "--csv"])
def test_a_reader_that_stops_reading_ends_it_in_one_line_with_exit_3(warehouse, environment, form):
    result = shell(f'{sys.executable} query.py {form} --dsn "$DSN" "SELECT g FROM generate_series(1, 3000000) g" '
                   '| head -1; echo "exit ${PIPESTATUS[0]}"', {**environment, "DSN": warehouse.dsn})
    first, status = result.stdout.splitlines()
    assert (first.strip(), status) == ("g", "exit 3"), result.stderr
    assert result.stderr.splitlines()[1:] == [
        "error: standard output (Broken pipe) could not be written: query.py stopped there, nothing was changed "
        "(exit status 3)"]


def test_a_full_disk_ends_it_in_one_line_with_exit_3(warehouse, environment):
    result = shell(f'{sys.executable} query.py --dsn "$DSN" "SELECT 1 AS one" > /dev/full; echo "exit $?"',
                   {**environment, "DSN": warehouse.dsn})
    assert result.stdout == "exit 3\n", result.stderr
    assert result.stderr.splitlines()[1:] == [
        "error: standard output (No space left on device) could not be written: query.py stopped there, nothing "
        "was changed (exit status 3)"]


def test_a_write_whose_output_is_lost_commits_nothing(warehouse, environment):
    with warehouse.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lost; CREATE TABLE lost (x int)")
    warehouse.connection.commit()
    result = shell(f'{sys.executable} query.py --write --dsn "$DSN" "INSERT INTO lost VALUES (1); '
                   'SELECT g FROM generate_series(1, 3000000) g" | head -1; echo "exit ${PIPESTATUS[0]}"',
                   {**environment, "DSN": warehouse.dsn})
    assert result.stdout.splitlines()[-1] == "exit 3", result.stderr
    assert warehouse.count("lost") == 0
