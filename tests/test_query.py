"""query.py: a table with a row count, CSV, one-line errors, psql, and the embedded server kept up."""

import csv
import io
import re
import signal
import subprocess
import sys

import psycopg2
import pytest
from helpers import PROJECT_DIR, event, song, write_source

from sparkify.engines.connect import Target
from sparkify.output import query

PASSWORD = "Sparkify2018secret"


def run_query(*args, environment, stdin=None, timeout=60):
    return subprocess.run(
        [sys.executable, "query.py", *args], cwd=PROJECT_DIR, env=environment, input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def two_plays(warehouse, tmp_path_factory):
    """Kaylee plays "You Gotta Be" twice; Lily (no last name) opens the app once."""
    events = [
        event(sessionId=1, itemInSession=0, ts=1541106106796),
        event(sessionId=1, itemInSession=1, ts=1541106352796),
        event(userId="15", firstName="Lily", lastName=None, page="Home", song=None, artist=None, length=None,
              sessionId=2, itemInSession=0, ts=1541106400000),
    ]
    warehouse.load(write_source(tmp_path_factory.mktemp("two_plays"), events=events, songs=[song()]))
    return warehouse.dsn


def test_a_select_prints_an_aligned_table_and_a_row_count(two_plays, environment):
    result = run_query("--dsn", two_plays, "SELECT user_id, first_name, last_name, level FROM user_table ORDER BY 1",
                       environment=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "user_id  first_name  last_name  level\n"
        "-------  ----------  ---------  -----\n"
        "      8  Kaylee      Summers    free\n"
        "     15  Lily        (null)     free\n"
        "2 rows\n"
    )


def test_numbers_are_right_aligned_and_printed_as_the_server_writes_them(two_plays, environment):
    result = run_query("--dsn", two_plays, "SELECT COUNT(*) AS plays, 2349 * 1000 AS big, 246.30812::float8 AS length "
                       "FROM songplay_table", environment=environment)
    assert result.stdout == (
        "plays      big     length\n"
        "-----  -------  ---------\n"
        "    2  2349000  246.30812\n"
        "1 row\n"
    )


@pytest.mark.parametrize("rows, count_line", [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1234, "1,234 rows")])
def test_the_count_line_says_how_many_rows(two_plays, environment, rows, count_line):
    result = run_query("--dsn", two_plays, f"SELECT n FROM generate_series(1, {rows}) AS n", environment=environment)
    assert result.stdout.splitlines()[-1] == count_line


def test_csv_prints_a_header_then_the_rows_for_a_spreadsheet(two_plays, environment):
    result = run_query("--csv", "--dsn", two_plays,
                       "SELECT user_id, last_name, 'Phoenix, AZ' AS city, 2349 AS plays FROM user_table ORDER BY 1",
                       environment=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'user_id,last_name,city,plays\n8,Summers,"Phoenix, AZ",2349\n15,,"Phoenix, AZ",2349\n'
    assert list(csv.reader(io.StringIO(result.stdout)))[2] == ["15", "", "Phoenix, AZ", "2349"]


@pytest.mark.parametrize("sql, message", [
    ("SELEC 1", 'error: syntax error at or near "SELEC" (line 1)'),
    ("SELECT * FROM no_such_table", 'error: relation "no_such_table" does not exist (line 1)'),
    ("SELECT 1 / 0", "error: division by zero"),
])
def test_a_bad_statement_is_one_line_and_exit_1(two_plays, environment, sql, message):
    result = run_query("--dsn", two_plays, sql, environment=environment)
    target, *error = result.stderr.splitlines(keepends=True)
    assert (result.returncode, result.stdout, "".join(error)) == (1, "", message + "\n")
    assert target.startswith("Target: ")


def test_a_statement_without_rows_prints_its_status_and_is_committed_with_write(two_plays, environment):
    result = run_query("--write", "--dsn", two_plays, "UPDATE user_table SET level = level WHERE user_id = '8'",
                       environment=environment)
    assert (result.returncode, result.stdout) == (0, "UPDATE 1\n")


def test_a_target_that_cannot_be_reached_is_exit_2_and_never_shows_its_password(environment, tmp_path):
    dsn = f"host={tmp_path} port=1 dbname=dev user=awsuser password={PASSWORD}"
    result = run_query("--dsn", dsn, "SELECT 1", environment=environment)
    assert result.returncode == 2
    assert re.fullmatch(r"Target: .*, password \*\*\*, read-only\n"
                        r"error: could not connect to .* after 3 attempts: .*\n", result.stderr)
    assert PASSWORD not in result.stdout + result.stderr


def test_a_one_shot_query_names_its_target_on_stderr_and_keeps_stdout_for_the_result(two_plays, environment):
    result = run_query("--csv", "--dsn", two_plays, "SELECT 1 AS one", environment=environment)
    assert (result.returncode, result.stdout) == (0, "one\n1\n")
    assert result.stderr.startswith("Target: ") and result.stderr.count("\n") == 1


# ---------------------------------------------------------------------------
# The embedded server: psql on it, and --serve
# ---------------------------------------------------------------------------


def test_without_sql_psql_opens_on_the_embedded_server_and_reads_stdin(environment, tmp_path):
    result = run_query("--pgdata", str(tmp_path / "pgdata"), environment=environment,
                       stdin="SELECT 40 + 2 AS answer;\n")
    assert result.returncode == 0, result.stderr
    assert re.search(r"answer\s*\n-+\s*\n\s*42\s*\n\(1 row\)", result.stdout)
    assert result.stderr.startswith("Target: embedded PostgreSQL in ")


def test_serve_prints_a_dsn_another_client_can_use_and_stops_on_ctrl_c(environment, tmp_path):
    pgdata = tmp_path / "pgdata"
    server = subprocess.Popen([sys.executable, "query.py", "--serve", "--pgdata", str(pgdata)], cwd=PROJECT_DIR,
                              env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        match = re.fullmatch(r"Serving the embedded PostgreSQL: (postgresql://sparkify_reader@/sparkify\?host=\S+)\n",
                             first)
        assert match, first + server.stderr.read() if server.poll() is not None else first
        lines = [first]
        while not lines[-1].startswith("Press Ctrl-C"):
            lines.append(server.stdout.readline())
        connection = psycopg2.connect(match.group(1))
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("sparkify",)
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                cursor.execute("CREATE TABLE written (x int)")
        connection.close()
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
        out = "".join(lines) + out
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Ctrl-C" in out and out.endswith("stopped: the embedded PostgreSQL shuts down\n")
    assert "password" not in out.replace("no password", "")
    assert not (pgdata / "postmaster.pid").exists(), "the server is still running"


def test_serve_refuses_a_remote_target(environment):
    result = run_query("--serve", "--dsn", f"host=db.example.com dbname=dev password={PASSWORD}",
                       environment=environment)
    assert result.returncode == 2
    assert result.stderr == (
        "error: --serve keeps the embedded PostgreSQL up, but the target is db.example.com/dev, password ***, "
        "which runs on its own: connect to it directly\n"
    )


def remote(dsn):
    return Target(dsn=dsn, label="remote", local=False)


def test_psql_on_a_remote_target_gets_the_password_from_the_environment_not_the_command_line(monkeypatch):
    monkeypatch.setattr(query.shutil, "which", lambda name: "/usr/bin/psql")
    argv, environment = query.psql_command(remote(f"host=db.example.com dbname=dev user=me password={PASSWORD}"))
    assert argv[0] == "/usr/bin/psql"
    assert PASSWORD not in " ".join(argv)
    assert environment["PGPASSWORD"] == PASSWORD


def test_without_a_system_psql_a_remote_target_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(query.shutil, "which", lambda name: None)
    with pytest.raises(query.TargetError, match="psql is not installed: install PostgreSQL's client"):
        query.psql_command(remote("host=db.example.com dbname=dev"))
