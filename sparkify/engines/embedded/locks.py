"""Sharing one embedded server between processes, with locks the kernel releases when a process dies.

Every process that uses the server holds a shared flock on a file in the data
folder for as long as it lives. The one that leaves last gets the lock
exclusively and stops the server. Starting and stopping are serialised by an
exclusive flock on the data folder itself. A process killed with kill -9 (or
by the out-of-memory killer) lets go of both without running any code: no
list of pids to go stale, no server kept up for ever by a dead process.
"""

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path

from sparkify.engines.embedded.programs import ServerError
from sparkify.engines.embedded.server_user import ServerUser

USERS = ".sparkify-users.lock"
WAIT_TIMEOUT = 300  # seconds: a start includes crash recovery


def holders(fd: int) -> list[int]:
    """The pids holding a flock on the file open as ``fd`` (from /proc/locks), to name who blocks."""
    info = os.fstat(fd)
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = []
    with contextlib.suppress(OSError), open("/proc/locks") as stream:
        for line in stream:
            fields = line.split()
            if "->" not in fields and len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted:
                pids.append(int(fields[4]))
    return pids


@contextlib.contextmanager
def starting_or_stopping(pgdata: Path):
    """Hold the data folder's start/stop lock for the block, waiting (and saying for whom) while another has it."""
    fd = os.open(pgdata, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        wait_for(fd, fcntl.LOCK_EX, f"another process is starting or stopping the embedded PostgreSQL on {pgdata}")
        yield
    finally:
        os.close(fd)


def wait_for(fd: int, kind: int, what: str) -> None:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    who = ", ".join(map(str, holders(fd))) or "?"
    print(f"waiting: {what} (pid {who})...", file=sys.stderr)
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.1)
    raise ServerError(f"gave up after {WAIT_TIMEOUT} s: {what} (pid {who})")


def join(pgdata: Path, user: ServerUser) -> int:
    """Become one of the server's users: a shared lock, held until this process lets go (embedded.stop).

    Called under the start/stop lock.
    """
    path = pgdata / USERS
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise ServerError(f"cannot open {path}: {error.strerror}") from None
    if os.fstat(fd).st_uid != user.uid and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, user.uid, user.gid)  # ours: the server's user may run the scripts itself later
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def last_user(fd: int) -> bool:
    """Whether this process is the server's last user (its shared lock made exclusive at once)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
