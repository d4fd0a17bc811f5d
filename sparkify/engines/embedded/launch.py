"""Run one PostgreSQL program (initdb, postgres) the way the embedded server needs it; a script of its own.

    python -I -S launch.py [--user-namespace | --as UID:GID[:GROUP,...]] [--detach FD] -- PROGRAM [ARG...]

PostgreSQL refuses to run as root. ``--user-namespace`` lets root run it
without creating a user, changing an owner or opening a folder: the program
runs in a new user namespace where root's uid is mapped to uid 1, so that the
kernel gives it no capability (an ordinary user's rights) while every file it
makes still belongs to root outside. ``--as`` runs it as another user
instead (root only), where user namespaces are refused. ``--detach FD`` starts the program in a new
session, its output going to the log file open on FD, and returns at once,
printing its pid, as ``pg_ctl start`` does: the server outlives the script
that started it.

It runs in a fresh interpreter, before ``exec``, and imports nothing from the
project: a multi-threaded process cannot create a user namespace. Exit
statuses: the program's own without --detach; 0 once a detached program has
started; 125 when the kernel refuses the user namespace; 127 when the
program cannot be run. Each failure is one line on standard error.
"""

import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000
INSIDE_ID = 1  # the id root has inside the namespace: not 0, so the program keeps no capability
USERNS_REFUSED, CANNOT_RUN = 125, 127
USAGE = "usage: launch.py [--user-namespace | --as UID:GID[:GROUP,...]] [--detach FD] -- PROGRAM [ARG...]"


def fail(status, message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(status)


def enter_user_namespace():
    uid, gid = os.geteuid(), os.getegid()
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "unshare"):
        fail(USERNS_REFUSED, "this system has no user namespaces")
    if libc.unshare(CLONE_NEWUSER) != 0:
        fail(USERNS_REFUSED, f"user namespaces are refused here (unshare: {os.strerror(ctypes.get_errno())})")
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{INSIDE_ID} {uid} 1\n"),
                           ("gid_map", f"{INSIDE_ID} {gid} 1\n")):
            with open(f"/proc/self/{name}", "w") as stream:
                stream.write(text)
    except OSError as error:
        fail(USERNS_REFUSED, f"user namespaces are refused here (writing /proc/self/{name}: {error.strerror})")


def become(identity):
    """Switch to ``UID:GID[:GROUP,...]`` for good (root only): groups first, the uid last."""
    uid, gid, *groups = identity.split(":")
    try:
        os.setgroups([int(group) for group in groups[0].split(",") if group] if groups else [])
        os.setgid(int(gid))
        os.setuid(int(uid))
    except (OSError, ValueError) as error:
        fail(CANNOT_RUN, f"cannot become uid {uid}: {getattr(error, 'strerror', None) or error}")


def run(argv):
    try:
        os.execv(argv[0], argv)
    except OSError as error:
        fail(CANNOT_RUN, f"cannot run {argv[0]}: {error.strerror}")


def detach(argv, log):
    """Fork; the child starts a new session, writes to ``log`` and execs ``argv``; the parent prints its pid
    once the exec worked."""
    read_end, write_end = os.pipe()  # both close on exec: EOF tells the parent the exec worked
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.setsid()
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in {nothing, log} - {0, 1, 2}:
            os.close(fd)
        try:
            os.execv(argv[0], argv)
        except OSError as error:
            os.write(write_end, f"cannot run {argv[0]}: {error.strerror}".encode())
        os._exit(CANNOT_RUN)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        failure = pipe.read()
    if failure:
        os.waitpid(pid, 0)
        fail(CANNOT_RUN, failure.decode(errors="replace"))
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
    os._exit(0)


def main(args):
    user_namespace, identity, log = False, None, None
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--user-namespace":
            user_namespace = True
        elif option == "--as" and args:
            identity = args.pop(0)
        elif option == "--detach" and args and args[0].isdigit():
            log = int(args.pop(0))
        else:
            fail(2, USAGE)
    argv = args[1:]
    if not argv:
        fail(2, USAGE)
    if user_namespace:
        enter_user_namespace()
    elif identity:
        become(identity)
    if log is not None:
        detach(argv, log)
    run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
