"""The embedded server's process: finding it, starting it, stopping it, and never signalling another.

postmaster.pid is only a hint. A process is this data folder's postmaster
when the kernel says so (through psutil: /proc on Linux): its program is the
wheel's postgres, its working directory is the data folder, and its parent is
not another such process (a backend's is). Only such a process is ever signalled, through a pidfd opened
before the check, so that a pid reused in between is not hit either. A
postmaster.pid that names anything else, or holds garbage, is stale once no
postmaster runs on the folder: it is removed, with one line, and the server
started again.

The socket is in the data folder (mode 0700) when its path fits in a Unix
socket address (107 bytes on Linux), else in a folder made for it with mkdtemp (mode
0700, the server user's) in the temporary directory; postmaster.pid's fifth
line says which, for every client. The socket itself is mode 0700: only the
server's user, and root, can connect.
"""

import contextlib
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from sparkify.engines.embedded import data_folder, programs
from sparkify.engines.embedded.programs import ServerError
from sparkify.engines.embedded.server_user import ServerUser, userns_refused

PORT = 5432
SOCKET_NAME = f".s.PGSQL.{PORT}"
SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107  # sun_path's bytes, less the final NUL
SOCKET_FOLDER_PREFIX = "sparkify-pg-"
READY = "ready"
START_TIMEOUT = 300  # seconds: crash recovery after a kill -9 replays the WAL first
SLOW_START = 5  # seconds before saying that the start takes long
STOP_TIMEOUT = 60  # seconds for a fast shutdown before an immediate one
POSTGRES = "postgres"


@dataclass(frozen=True)
class PidFile:
    """What postmaster.pid says, each field None when missing or garbage."""

    pid: int | None
    socket_dir: str | None
    port: int | None
    status: str | None


@dataclass(frozen=True)
class Server:
    pid: int
    socket_dir: Path
    port: int


def read_pid_file(pgdata: Path) -> PidFile | None:
    try:
        with open(pgdata / "postmaster.pid", "rb") as stream:
            text = stream.read(8192).decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return PidFile(None, None, None, None)
    lines = text.split("\n")

    def line(number):
        return lines[number].strip() if len(lines) > number else ""

    def number(number_line):
        value = line(number_line)
        return int(value) if value.isdigit() and 0 < int(value) < 2**22 else None

    return PidFile(number(0), line(4) or None, number(3), line(7) or None)


# ---------------------------------------------------------------------------
# Which processes run on a data folder
# ---------------------------------------------------------------------------


def _process(pid: int) -> psutil.Process | None:
    """The live process ``pid`` (a zombie runs nothing), or None."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def _program(process: psutil.Process) -> str | None:
    try:
        return process.exe().removesuffix(" (deleted)") or None
    except psutil.Error:
        return None


def _works_in(process: psutil.Process, folder: os.stat_result) -> bool:
    """Whether ``process``'s working directory is ``folder`` (compared as files, whatever the path)."""
    try:
        cwd = os.stat(process.cwd())
    except (psutil.Error, OSError):
        return False
    return (cwd.st_dev, cwd.st_ino) == (folder.st_dev, folder.st_ino)


def _parent(pid: int) -> int | None:
    """The parent of live process ``pid``, or None when it has ended."""
    process = _process(pid)
    try:
        return process.ppid() if process else None
    except psutil.Error:
        return None


def server_processes(pgdata: Path) -> dict[int, str]:
    """pid -> program of every PostgreSQL process (any binary) working in ``pgdata``: postmasters and children."""
    try:
        folder = os.stat(pgdata)
    except OSError:
        return {}
    found = {}
    for process in psutil.process_iter():
        program = _program(process)
        if program and Path(program).name == POSTGRES and _works_in(process, folder) and _process(process.pid):
            found[process.pid] = program  # _process(): not a zombie
    return found


def postmasters(pgdata: Path) -> dict[int, str]:
    """The postmasters among server_processes(): those whose parent is not one of them."""
    processes = server_processes(pgdata)
    parents = {pid: _parent(pid) for pid in processes}  # None: it has ended meanwhile (a backend, say)
    return {pid: program for pid, program in processes.items()
            if parents[pid] is not None and parents[pid] not in processes}


def ours(program: str) -> bool:
    return program == str(programs.path(POSTGRES))


def is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is, now, the postmaster of ``pgdata`` run from the wheel's postgres."""
    process = _process(pid)
    program = _program(process) if process else None
    if program is None or not ours(program):
        return False
    try:
        folder = os.stat(pgdata)
    except OSError:
        return False
    if not _works_in(process, folder):
        return False
    parent_pid = _parent(pid)
    parent = _process(parent_pid) if parent_pid else None
    return not (parent and _program(parent) == program and _works_in(parent, folder))


# ---------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------


def _pidfd(pid: int) -> int | None:
    """A pidfd for ``pid``, or None where the kernel has none (before Linux 5.3, or a seccomp filter)."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except (OSError, AttributeError):
        return None


def signal_postmaster(pid: int, pgdata: Path, signum: int) -> bool:
    """Send ``signum`` to ``pid`` if, and only if, it is ``pgdata``'s postmaster; True if sent.

    The pidfd is opened first and the process checked after: if the pid was
    reused in between, the check looks at the new process and the pidfd at
    the old one, and the signal fails instead of reaching anyone else.
    """
    try:
        fd = _pidfd(pid)
    except ProcessLookupError:
        return False
    try:
        if not is_our_postmaster(pid, pgdata):
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, signum)
        else:
            os.kill(pid, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has ended (or is a zombie); True if it did within ``timeout`` seconds."""
    try:
        fd = _pidfd(pid)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    try:
        while _parent(pid) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd is not None:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                poller.poll(min(left, 0.5) * 1000)
            else:
                time.sleep(min(left, 0.05))
        return True
    finally:
        if fd is not None:
            os.close(fd)


def stop(pgdata: Path) -> None:
    """Stop the postmaster of ``pgdata``, if ours runs: a fast shutdown, then an immediate one.

    The pid comes from /proc (postmaster.pid may name anything); each signal
    goes through signal_postmaster(), which checks the process again.
    """
    recorded = read_pid_file(pgdata)
    for pid in sorted(postmasters(pgdata)):
        if signal_postmaster(pid, pgdata, signal.SIGINT) and not wait_gone(pid, STOP_TIMEOUT):
            print(f"warning: the embedded PostgreSQL on {pgdata} did not stop within {STOP_TIMEOUT} s: "
                  "stopping it at once", file=sys.stderr)
            if signal_postmaster(pid, pgdata, signal.SIGQUIT):
                wait_gone(pid, 10)
    if recorded is not None:
        remove_socket_folder(pgdata, recorded.socket_dir)


# ---------------------------------------------------------------------------
# The socket's folder
# ---------------------------------------------------------------------------


def socket_fits(folder: Path) -> bool:
    return len(os.fsencode(folder / SOCKET_NAME)) <= SOCKET_PATH_MAX


def make_socket_folder(pgdata: Path, user: ServerUser) -> Path:
    """The data folder when the socket's path fits in it; else a new private folder of the server's user."""
    if socket_fits(pgdata):
        return pgdata
    for base in dict.fromkeys([tempfile.gettempdir(), "/tmp"]):
        if socket_fits(Path(base) / f"{SOCKET_FOLDER_PREFIX}xxxxxxxx"):
            folder = Path(tempfile.mkdtemp(prefix=SOCKET_FOLDER_PREFIX, dir=base))  # mode 0700, ours
            if user.uid != os.geteuid():
                os.chown(folder, user.uid, user.gid)
            return folder
    raise ServerError(f"no folder has a path short enough for the embedded PostgreSQL's socket (the data folder "
                      f"{pgdata} and the temporary directory {tempfile.gettempdir()} are too long): set TMPDIR "
                      "to a short path")


def private_socket_folder(folder: Path, pgdata: Path, owner: int) -> bool:
    """Whether ``folder`` may hold the socket: the data folder, or a real folder of ``owner`` with mode 0700."""
    if folder == pgdata:
        return True
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == owner and stat.S_IMODE(info.st_mode) == 0o700


def remove_socket_folder(pgdata: Path, recorded: str | None) -> None:
    """Remove a socket folder we made (named so, private, not the data folder), with the socket files in it."""
    if not recorded or not Path(recorded).is_absolute():
        return
    folder = Path(recorded)
    if folder == pgdata or not folder.name.startswith(SOCKET_FOLDER_PREFIX):
        return
    owner = os.stat(pgdata).st_uid if pgdata.exists() else os.geteuid()
    if not private_socket_folder(folder, pgdata, owner):
        return
    remove_socket_files(folder)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def remove_socket_files(folder: Path) -> None:
    """A dead server's socket and its lock file (the lock may name a pid that has since been reused)."""
    for name in (SOCKET_NAME, f"{SOCKET_NAME}.lock"):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


# ---------------------------------------------------------------------------
# Joining the running server, or starting one
# ---------------------------------------------------------------------------


def running(pgdata: Path) -> Server | None:
    """The server to join on ``pgdata``: ours, ready, its socket where only its user reaches it; else None.

    A postmaster.pid that no running postmaster of ours answers to is removed,
    with one line, once no PostgreSQL process works in the folder. A server of
    ours that is not as it should be (started by an earlier version with its
    socket in a shared folder, or a postmaster.pid that names another pid) is
    stopped, to be started again as it should be.
    """
    recorded = read_pid_file(pgdata)
    found = postmasters(pgdata)
    foreign = {pid: program for pid, program in found.items() if not ours(program)}
    if foreign:
        pid, program = next(iter(foreign.items()))
        raise ServerError(f"another PostgreSQL server (pid {pid}, {program}) runs on {pgdata}: stop it, or give "
                          "another --pgdata")
    if recorded is not None and recorded.pid in found:
        try:
            server = wait_ready(pgdata, recorded.pid)
        except ServerError:  # it stopped meanwhile (a pg_ctl stop of the user's, say): start it again
            server, found = None, postmasters(pgdata)
        if server and private_socket_folder(server.socket_dir, pgdata, os.stat(pgdata).st_uid):
            return server
    if found:
        stop(pgdata)
    elif read_pid_file(pgdata) is not None:
        forget_stale(pgdata, read_pid_file(pgdata))
    return None


def forget_stale(pgdata: Path, recorded: PidFile) -> None:
    """Remove a postmaster.pid that no server answers to, and its socket files, saying so in one line."""
    wait_for_children(pgdata)
    if recorded.pid is None:
        why = "an unreadable postmaster.pid"
    elif _parent(recorded.pid) is None:
        why = f"a postmaster.pid naming pid {recorded.pid}, which has ended"
    else:
        why = f"a postmaster.pid naming pid {recorded.pid}, which is not its server (left alone)"
    print(f"note: the embedded PostgreSQL on {pgdata} was not shut down cleanly ({why}): starting it again",
          file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):
        (pgdata / "postmaster.pid").unlink()
    remove_socket_files(pgdata)
    remove_socket_folder(pgdata, recorded.socket_dir)


def wait_for_children(pgdata: Path, timeout: float = 10) -> None:
    """After a postmaster died hard, its children end within moments: a new one must wait for them."""
    deadline = time.monotonic() + timeout
    while server_processes(pgdata) and time.monotonic() < deadline:
        time.sleep(0.05)


def launch(pgdata: Path, user: ServerUser, settings: dict) -> Server:
    """Start the postmaster on ``pgdata`` as ``user`` and wait until it accepts connections."""
    socket_dir = make_socket_folder(pgdata, user)
    log = data_folder.open_log(pgdata, user)
    offset = os.fstat(log).st_size
    quoted = '"' + str(socket_dir).replace('"', '""') + '"'
    argv = [programs.path(POSTGRES), "-D", pgdata, "-p", str(PORT), "-h", "",
            "-c", f"unix_socket_directories={quoted}", "-c", "unix_socket_permissions=0700"]
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    try:
        try:
            result = subprocess.run(user.command(argv, log_fd=log), pass_fds=(log,), capture_output=True, text=True,
                                    errors="replace", stdin=subprocess.DEVNULL, timeout=60)
        finally:
            os.close(log)
        if result.returncode != 0:
            refused = userns_refused(result.returncode, result.stderr)
            raise ServerError(refused or f"the embedded PostgreSQL could not start on {pgdata}: "
                              f"{result.stderr.strip() or 'no message'}")
        try:
            return wait_ready(pgdata, int(result.stdout.split()[0]), offset)
        except BaseException:  # Ctrl-C while it starts: no one would be left to stop it
            stop(pgdata)
            raise
    except BaseException:
        if socket_dir != pgdata:
            remove_socket_folder(pgdata, str(socket_dir))
        raise


def wait_ready(pgdata: Path, pid: int, log_offset: int | None = None) -> Server:
    """Wait until postmaster ``pid`` says it is ready in postmaster.pid; ServerError if it ends first."""
    started = time.monotonic()
    said = False
    while True:
        recorded = read_pid_file(pgdata)
        if recorded is not None and recorded.pid == pid and recorded.status == READY and recorded.socket_dir:
            return Server(pid, Path(recorded.socket_dir), recorded.port or PORT)
        if _parent(pid) is None:
            text = data_folder.log_since(pgdata, log_offset) if log_offset is not None else ""
            reason = data_folder.server_error(text) or "it ended without saying why"
            raise ServerError(f"the embedded PostgreSQL could not start on {pgdata}: {reason} "
                              f"(its log: {pgdata / data_folder.LOG})")
        waited = time.monotonic() - started
        if waited > START_TIMEOUT:
            raise ServerError(f"the embedded PostgreSQL on {pgdata} was not ready after {START_TIMEOUT} s "
                              f"(its log: {pgdata / data_folder.LOG})")
        if waited > SLOW_START and not said:
            print(f"waiting for the embedded PostgreSQL on {pgdata} to be ready (after a hard stop, it first "
                  "recovers its data)...", file=sys.stderr)
            said = True
        time.sleep(0.02)
