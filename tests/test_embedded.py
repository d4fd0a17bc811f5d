"""The embedded PostgreSQL changes nothing outside its own folder, lets in only its user, and signals no one else.

The tests that check what root may do (modes and owners of folders above the
data folder, who can connect, the user the server runs as) run as root, as CI
and containers do, and are skipped otherwise. A data folder made once per
module (``template``) is copied where a test needs one, so that initdb runs
once.
"""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest
from failure_cases import FAILURES
from helpers import BUNDLED_SAMPLE, PROJECT_DIR, run_script
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import create_tables
import etl
from sparkify import api
from sparkify.engines import embedded
from sparkify.engines.embedded import postmaster, programs, server_user
from sparkify.engines.errors import DatabaseError

ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not ROOT, reason="what root may change or reach: CI and containers run as root")
NOBODY = pwd.getpwnam("nobody") if ROOT else None


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """(a data folder the embedded server made, with the tables, stopped; the postmaster.pid it had while it ran)."""
    folder = tmp_path_factory.mktemp("template") / "pgdata"
    with psycopg2.connect(embedded.start(folder)) as connection:
        api.create_tables(connection, "postgres")
    connection.close()
    running_pid_file = (folder / "postmaster.pid").read_text()
    embedded.stop(folder)
    return folder, running_pid_file


def copy_as_is(source: Path, copy: Path) -> Path:
    """A copy of a data folder with its modes and its owners (the server's user may not be this one)."""
    shutil.copytree(source, copy, symlinks=True)
    for item in [copy, *copy.rglob("*")]:
        info = os.lstat(source / item.relative_to(copy))
        if (info.st_uid, info.st_gid) != (os.lstat(item).st_uid, os.lstat(item).st_gid):
            os.lchown(item, info.st_uid, info.st_gid)
    return copy


@pytest.fixture
def pgdata(template, tmp_path):
    """A copy of the template: a data folder of an earlier run, its server stopped."""
    return copy_as_is(template[0], tmp_path / "pgdata")


@pytest.fixture
def sleeper():
    """A live process that has nothing to do with PostgreSQL."""
    process = subprocess.Popen(["sleep", "900"])
    yield process
    process.kill()
    process.wait()


def with_first_line(pid_file_text: str, first: str) -> str:
    return "\n".join([first, *pid_file_text.split("\n")[1:]])


def modes_and_owners(path: Path) -> dict:
    """Mode, owner and group of ``path`` and of every folder above it."""
    return {str(folder): (lambda info: (info.st_mode, info.st_uid, info.st_gid))(os.stat(folder))
            for folder in [path, *path.parents]}


def everything_in(path: Path) -> dict:
    """Mode, owner and bytes of ``path`` and of everything under it, for 'left as it was'."""
    found = {}
    for item in [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]:
        info = item.lstat()
        content = item.read_bytes() if stat.S_ISREG(info.st_mode) else None
        found[str(item)] = (info.st_mode, info.st_uid, info.st_gid, content)
    return found


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def server_pid(pgdata: Path) -> int:
    """The pid of the postmaster running on ``pgdata``, as /proc says."""
    (pid,) = postmaster.postmasters(pgdata)
    return pid


# ---------------------------------------------------------------------------
# Root: no mode, owner or user changed; only root connects
# ---------------------------------------------------------------------------


@pytest.fixture
def private():
    """A folder only root may enter, in the temporary directory (pytest's own folders are shared by the
    test runs of the machine)."""
    folder = Path(tempfile.mkdtemp(prefix="sparkify-test-"))
    yield folder
    shutil.rmtree(folder)


@as_root
def test_a_start_as_root_changes_no_mode_or_owner_of_a_folder_it_did_not_make(private):
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    pgdata = private / "work" / "pg"
    above = modes_and_owners(private)
    programs_above = modes_and_owners(programs.path("postgres"))
    users = sorted(entry.pw_name for entry in pwd.getpwall())

    created = run_script("create_tables.py", "--pgdata", str(pgdata))

    assert created.returncode == 0, created.stderr
    assert modes_and_owners(private) == above
    assert modes_and_owners(programs.path("postgres")) == programs_above
    assert sorted(entry.pw_name for entry in pwd.getpwall()) == users, "no user created"
    info = os.stat(pgdata)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, 0), "the data folder is root's, and private"
    assert not postmaster.server_processes(pgdata), "stopped when create_tables.py ended"


def connects_as_nobody(socket: Path) -> str:
    """What connecting to ``socket`` as the user nobody gives: "connected", or the error."""
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1]); print('connected')\n"
             "except OSError as error:\n    print(error.strerror)\n")
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")  # one the user nobody may run
    if python is None:
        pytest.skip("no system python3 to connect as the user nobody")
    result = subprocess.run(["runuser", "-u", "nobody", "--", python, "-I", "-c", probe, str(socket)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@as_root
@pytest.mark.parametrize("path", ["short", "about 110 characters long"])
def test_only_the_servers_user_and_root_can_connect_whatever_the_path_length(tmp_path, path):
    """A data folder path too long for a Unix socket address puts the socket in a private folder of its
    own; either way the socket and its folder are mode 0700, and nobody else gets in."""
    pgdata = tmp_path / "pg"
    if path != "short":
        pgdata = tmp_path / "long" / ("x" * (110 - len(str(tmp_path / "long")) - 1))
        assert len(str(pgdata)) == 110
    dsn = embedded.start(pgdata)
    try:
        folder = Path(psycopg2.extensions.parse_dsn(dsn)["host"])
        socket = folder / postmaster.SOCKET_NAME
        assert (folder == pgdata) == (path == "short")
        info, socket_info = os.lstat(folder), os.lstat(socket)
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == 0
        assert stat.S_IMODE(socket_info.st_mode) == 0o700
        assert connects_as_nobody(socket) == "Permission denied"
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # root does
        assert embedded.who_can_connect(pgdata) == "root"
    finally:
        embedded.stop(pgdata)
    assert not folder.exists() or folder == pgdata, "the socket's own folder goes with the server"


@as_root
def test_dwh_embedded_user_runs_the_server_as_that_user(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="sparkify-test-"))  # outside pytest's folders, which nobody cannot enter
    try:
        os.chmod(base, 0o755)  # ours
        if server_user.blocking_folder(programs.path("postgres"), server_user.named_user("nobody")):
            pytest.skip("the user nobody cannot reach the PostgreSQL programs in this checkout")
        monkeypatch.setenv(server_user.USER_ENV, "nobody")
        pgdata = base / "pg"
        dsn = embedded.start(pgdata)
        try:
            with open(f"/proc/{server_pid(pgdata)}/status") as status:
                uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
            assert set(map(int, uids)) == {NOBODY.pw_uid}
            info = os.stat(pgdata)
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (NOBODY.pw_uid, 0o700)
            assert embedded.who_can_connect(pgdata) == "nobody and root"
            with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            embedded.stop(pgdata)
    finally:
        shutil.rmtree(base)


@as_root
def test_dwh_embedded_user_that_cannot_reach_the_data_folder_is_refused_and_nothing_is_opened(
    tmp_path, monkeypatch, capsys
):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv(server_user.USER_ENV, "nobody")

    code = etl.main(["--pgdata", str(private / "pg")])

    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert f"the embedded PostgreSQL runs as nobody, which cannot reach --pgdata {private / 'pg'}: " in line
    assert " is mode 0700, owned by root: give a --pgdata that this user can reach" in line
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700 and not any(private.iterdir())


def unshare_works(*options) -> bool:
    return ROOT and subprocess.run(["unshare", *options, "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not unshare_works("-r"), reason="needs root and user namespaces to make a refusing one")
def test_where_user_namespaces_are_refused_root_is_told_what_to_do_in_one_line(tmp_path):
    """Inside a user namespace whose limit of nested ones is 0, as a container's seccomp profile refuses them."""
    pgdata = tmp_path / "pg"
    refused = subprocess.run(
        ["unshare", "-r", "sh", "-c", 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh",
         sys.executable, "etl.py", "--pgdata", str(pgdata)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    line = one_error_line(refused.stderr)
    assert refused.returncode == FAILURES["root where user namespaces are refused"].exit_code == 2
    assert FAILURES["root where user namespaces are refused"].message in line
    assert not pgdata.exists(), "the data folder it made is gone again"


def test_processes_that_start_together_share_one_server_and_the_last_to_leave_stops_it(tmp_path):
    pgdata = tmp_path / "new" / "pg"
    runs = [subprocess.Popen([sys.executable, "query.py", "--pgdata", str(pgdata), "--csv", "SELECT 1 AS one"],
                             cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert all(out == "one\n1\n" for out, _ in results), results
    assert (pgdata / "PG_VERSION").exists() and not postmaster.server_processes(pgdata)


# ---------------------------------------------------------------------------
# postmaster.pid is a hint: no process but the server is ever signalled
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["a sleep", "the calling shell"])
def test_a_stale_postmaster_pid_naming_a_live_process_leaves_it_alone(pgdata, template, sleeper, who):
    """The issue's case: a real postmaster.pid whose first line names a live process that is not the server."""
    stale = pgdata / "postmaster.pid"
    if who == "a sleep":
        stale.write_text(with_first_line(template[1], str(sleeper.pid)))
        run = run_script("etl.py", "--pgdata", str(pgdata), "--quiet")
    else:  # the shell that runs etl.py, as a cron job's: it must live to print its line
        stale.write_text(template[1])
        rewrite = "import os, sys; p = sys.argv[1]; t = open(p).read().split(chr(10)); t[0] = str(os.getppid()); " \
                  "open(p, 'w').write(chr(10).join(t))"
        run = subprocess.run(
            ["sh", "-c", '"$1" -c "$2" "$3" && "$1" etl.py --pgdata "$4" --quiet; echo "the shell lives: $?"',
             "sh", sys.executable, rewrite, str(stale), str(pgdata)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
        assert run.stdout.endswith("the shell lives: 0\n"), run.stderr
    assert run.returncode == 0, run.stderr
    assert sleeper.poll() is None, "the sleep was not signalled"
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "was not shut down cleanly" in notes[0], run.stderr
    assert FAILURES["a stale or garbage `postmaster.pid`"].message in notes[0]
    assert "Traceback" not in run.stderr
    assert not postmaster.server_processes(pgdata)


def test_a_postmaster_pid_rewritten_while_the_server_runs_gets_no_other_process_signalled_at_stop(pgdata):
    """The pid is the one of a process of the server's own user, which a signal would reach."""
    embedded.start(pgdata)
    server = server_pid(pgdata)
    owner = os.stat(pgdata).st_uid
    sleeper = subprocess.Popen(["sleep", "900"], user=owner if owner != os.geteuid() else None)
    try:
        (pgdata / "postmaster.pid").write_text(with_first_line((pgdata / "postmaster.pid").read_text(),
                                                               str(sleeper.pid)))
        embedded.stop(pgdata)
        assert sleeper.poll() is None, "the sleep was not signalled"
        assert postmaster.wait_gone(server, 10), "the real server was found by /proc and stopped"
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture
def other_postmaster(dsn):
    """The pid of the test session's own server: a real postmaster, of another data folder."""
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        folder = Path(cursor.fetchone()[0])
    connection.close()
    pid_file = postmaster.read_pid_file(folder) if folder.exists() else None
    return pid_file.pid if pid_file else None


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_postmaster_pid_left_behind_is_recovered_from_with_one_line(
    data, pgdata, template, sleeper, other_postmaster, tmp_path, capsys
):
    """Empty, truncated, garbage, or a real one naming a dead pid, the test itself, a sleep, or another data
    folder's postmaster; its socket line naming the data folder of another server or a folder that looks like
    ours but is not private: the server starts, nothing else is signalled, and no folder but ours is touched."""
    decoy = tmp_path / f"{postmaster.SOCKET_FOLDER_PREFIX}decoy"
    decoy.mkdir(mode=0o755, exist_ok=True)
    (decoy / postmaster.SOCKET_NAME).write_text("not ours")
    before = everything_in(decoy), everything_in(template[0])
    live = [os.getpid(), os.getppid(), sleeper.pid] + ([other_postmaster] if other_postmaster else [])
    lines = template[1].split("\n")
    real = st.builds(
        lambda pid, socket_dir, keep: "\n".join([str(pid), *lines[1:4], socket_dir, *lines[5:]][:keep]),
        st.sampled_from([*live, 4_000_000, 0, -1]),
        st.sampled_from([lines[4], str(decoy), str(template[0]), ""]),
        st.integers(0, len(lines)),
    )
    content = data.draw(st.one_of(real.map(str.encode), st.binary(max_size=80),
                                  st.text(max_size=80).map(lambda text: text.encode(errors="replace"))))
    (pgdata / "postmaster.pid").write_bytes(content)
    capsys.readouterr()

    embedded.start(pgdata)
    embedded.stop(pgdata)

    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1, notes
    assert sleeper.poll() is None
    assert (everything_in(decoy), everything_in(template[0])) == before
    if other_postmaster:
        os.kill(other_postmaster, 0)  # the session's server lives


# ---------------------------------------------------------------------------
# --pgdata names a new path, or a data folder of ours: anything else is refused, untouched
# ---------------------------------------------------------------------------


def not_ours(kind, tmp_path, template):
    path = tmp_path / "given"
    if kind == "a regular file":
        path.write_text("my notes\n")
    elif kind == "a folder holding other files":
        path.mkdir()
        (path / "thesis.tex").write_text("\\chapter{One}\n")
    elif kind == "an empty folder that is not private":
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
    elif kind == "a data folder the embedded server did not make":
        copy_as_is(template, path)
        conf = path / "postgresql.conf"
        conf.write_text("".join(line for line in conf.read_text().splitlines(keepends=True)
                                if "sparkify" not in line))
    elif kind == "a data folder of another PostgreSQL version":
        copy_as_is(template, path)
        (path / "PG_VERSION").write_text("16\n")
    return path


NOT_OURS = {
    "a regular file": "is a file, not a folder",
    "a folder holding other files": "is not empty and is not a data folder of the embedded PostgreSQL",
    "an empty folder that is not private": "is an empty folder of root with mode 0755" if ROOT else "with mode 0755",
    "a data folder the embedded server did not make": "is a PostgreSQL data folder that the embedded PostgreSQL "
                                                       "did not make",
    "a data folder of another PostgreSQL version": "holds the data of PostgreSQL '16'",
}


@pytest.mark.parametrize("kind", NOT_OURS)
@pytest.mark.parametrize("script_main", [etl.main, create_tables.main], ids=["etl.py", "create_tables.py"])
def test_pgdata_that_is_not_the_embedded_servers_is_refused_in_one_line_and_left_as_it_was(
    kind, script_main, tmp_path, template, capsys
):
    path = not_ours(kind, tmp_path, template[0])
    before = everything_in(path)

    code = script_main(["--pgdata", str(path)])

    line = one_error_line(capsys.readouterr().err)
    assert code == FAILURES["`--pgdata` naming a file, or a folder the embedded server did not make"].exit_code == 2
    assert NOT_OURS[kind] in line
    assert everything_in(path) == before


def test_an_empty_private_folder_is_made_the_data_folder(tmp_path):
    """What a first start that failed (a full disk during initdb) leaves: the next run uses it."""
    folder = tmp_path / "pg"
    folder.mkdir(mode=0o700)
    embedded.start(folder)
    embedded.stop(folder)
    assert (folder / "PG_VERSION").exists()


# ---------------------------------------------------------------------------
# Read-only, full disk, killed server: one line each
# ---------------------------------------------------------------------------


def test_a_read_only_data_folder_is_one_line_and_left_read_only(pgdata, capsys):
    os.chmod(pgdata, 0o500)
    try:
        code = etl.main(["--pgdata", str(pgdata)])
        line = one_error_line(capsys.readouterr().err)
        assert code == FAILURES["a read-only data folder"].exit_code == 2
        assert f"--pgdata {pgdata} is read-only (mode 0500)" in line
        assert stat.S_IMODE(os.stat(pgdata).st_mode) == 0o500
    finally:
        os.chmod(pgdata, 0o700)


@pytest.mark.skipif(not unshare_works("-m"), reason="needs root and mount namespaces")
def test_a_data_folder_on_a_read_only_file_system_is_one_line(pgdata):
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
         "sh", str(pgdata), sys.executable, "etl.py", "--pgdata", str(pgdata)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2
    assert "is on a read-only file system" in one_error_line(run.stderr)


@pytest.mark.skipif(not unshare_works("-m"), reason="needs root and mount namespaces")
def test_a_full_disk_while_the_data_folder_is_made_is_one_line_and_leaves_nothing(tmp_path):
    disk = tmp_path / "small-disk"
    disk.mkdir()
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=6m sparkify-test "$1" && shift && "$@"; status=$?; '
         'ls -A "$0"; exit $status', str(disk), str(disk), sys.executable, "etl.py", "--pgdata", str(disk / "pg")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    line = one_error_line(run.stderr)
    failure = FAILURES["a full disk while the data folder is made"]
    assert run.returncode == failure.exit_code == 2
    assert failure.message in line and "No space left on device" in line
    assert run.stdout == "", "the data folder it made is gone again"


PAUSE_KEY = 0x454D_4244  # "EMBD": the advisory lock the trigger waits on


def test_a_server_killed_during_a_load_is_one_line_and_the_next_run_starts_it_again(pgdata):
    holder = psycopg2.connect(embedded.start(pgdata))
    holder.autocommit = True
    with holder.cursor() as cursor:
        cursor.execute(f"""CREATE FUNCTION pause_here() RETURNS trigger LANGUAGE plpgsql AS $$
                           BEGIN PERFORM pg_advisory_xact_lock({PAUSE_KEY}); RETURN NEW; END $$""")
        cursor.execute("CREATE TRIGGER pause BEFORE INSERT ON songplay_table EXECUTE FUNCTION pause_here()")
        cursor.execute("SELECT pg_advisory_lock(%s)", (PAUSE_KEY,))
    load = subprocess.Popen([sys.executable, "etl.py", "--pgdata", str(pgdata), "--quiet"], cwd=PROJECT_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with holder.cursor() as cursor:
        for _ in range(1500):
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sparkify-etl' "
                           "AND wait_event = 'advisory'")
            if cursor.fetchone() or load.poll() is not None:
                break
            time.sleep(0.02)
    os.kill(server_pid(pgdata), signal.SIGKILL)
    _, err = load.communicate(timeout=120)
    holder.close()
    embedded.stop(pgdata)  # this process's share: no server to stop, and nothing to say

    failure = FAILURES["the embedded PostgreSQL killed during a load"]
    assert load.returncode == failure.exit_code == 2  # the connection lost: exit status 2, as every script
    assert err.splitlines()[0].startswith("error: ") and failure.message in err.splitlines()[0]
    assert len(err.strip().splitlines()) == 2, err  # and "Nothing was committed: ..."
    assert "Traceback" not in err and "NoSuchProcess" not in err
    again = run_script("etl.py", "--pgdata", str(pgdata), "--quiet")
    assert again.returncode == 0, again.stderr
    assert sum(line.startswith("note:") for line in again.stderr.splitlines()) == 1


# ---------------------------------------------------------------------------
# Disk: whatever the number of reloads or failed runs, the size of one load
# ---------------------------------------------------------------------------

def table_sizes(warehouse, of="pg_total_relation_size") -> dict:
    """Bytes on disk of each table of the warehouse's schema (with its indexes, by default)."""
    return dict(warehouse.query(f"SELECT relname::text, {of}(oid) FROM pg_class "
                                "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"))


def test_full_reloads_keep_every_table_the_size_of_one_load(warehouse):
    """PostgreSQL empties staging with TRUNCATE, and VACUUMs the ledger's deleted rows: a DELETE left every
    staged row on disk, and the embedded server never lives long enough for autovacuum."""
    sizes = []
    for _ in range(3):
        warehouse.load(BUNDLED_SAMPLE)
        sizes.append(table_sizes(warehouse))
    first, _, third = sizes
    assert {table: size for table, size in third.items() if table != "loaded_files"} == \
           {table: size for table, size in first.items() if table != "loaded_files"}
    assert sum(third.values()) <= 1.3 * sum(first.values())


def test_failed_daily_runs_give_back_what_they_appended(warehouse, tmp_path):
    """A daily run that fails after appending to staging and the star: VACUUM after the rollback."""
    source = tmp_path / "source"
    shutil.copytree(BUNDLED_SAMPLE, source)
    days = sorted((source / "log_data").rglob("*.json"))
    warehouse.load(source)
    (days[-1].parent / "2018-12-01-events.json").write_text("".join(day.read_text() for day in days))
    with warehouse.connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'the ledger cannot be written'; END $$")
        cursor.execute("CREATE TRIGGER refuse BEFORE INSERT ON loaded_files EXECUTE FUNCTION refuse()")
    warehouse.connection.commit()
    before = table_sizes(warehouse, of="pg_relation_size")
    try:
        for _ in range(3):
            with pytest.raises(DatabaseError, match="the ledger cannot be written"):
                api.run(warehouse.connection, "postgres", source, full=False, allow_empty=True)
            after = table_sizes(warehouse, of="pg_relation_size")
            assert {table: size for table, size in after.items() if size > before[table]} == {}
    finally:
        with warehouse.connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse ON loaded_files")
            cursor.execute("DROP FUNCTION refuse()")
        warehouse.connection.commit()
