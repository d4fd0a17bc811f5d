"""Which system user the embedded server runs as, and how its programs are started as that user.

PostgreSQL never runs as root. The rule:

- a user other than root: the server runs as that user, on a data folder
  that user owns;
- root: the server runs as the data folder's owner. A folder root owns (a
  new one included) is served by root in a user namespace of its own, where
  the kernel gives it no capability: it reads and writes root's files that
  its mode lets the owner touch, and nothing else. No user is created, no
  owner or mode changed.
- root where user namespaces are refused (Docker's and Kubernetes' default
  seccomp profiles, ``user.max_user_namespaces = 0``, Ubuntu's AppArmor
  restriction for a process without CAP_SYS_ADMIN): the operator names an
  existing user in ``DWH_EMBEDDED_USER``; a new data folder is made for that
  user, and the folders above it must already let that user through.
  Otherwise the run stops with one line that says so.

A data folder made by an earlier version belongs to ``embedded_postgres``:
root runs its server as that user, as before.
"""

import os
import pwd
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sparkify.config import EMBEDDED_USER_ENV, TargetError, embedded_user
from sparkify.engines.embedded import programs
from sparkify.engines.embedded.launch import USERNS_REFUSED

USER_ENV = EMBEDDED_USER_ENV  # named in its messages
LAUNCHER = Path(__file__).with_name("launch.py")


@dataclass(frozen=True)
class ServerUser:
    name: str
    uid: int
    gid: int
    groups: tuple = field(default=())
    namespace: bool = False  # root, inside a user namespace without capabilities

    def command(self, argv, log_fd: int | None = None) -> list[str]:
        """The command line that runs ``argv`` as this user (detached, its output to ``log_fd``, if given)."""
        options = []
        if self.namespace:
            options.append("--user-namespace")
        elif self.uid != os.geteuid():
            options += ["--as", f"{self.uid}:{self.gid}:{','.join(map(str, self.groups))}"]
        if log_fd is not None:
            options += ["--detach", str(log_fd)]
        if not options:
            return [str(arg) for arg in argv]
        return [sys.executable, "-I", "-S", str(LAUNCHER), *options, "--", *(str(arg) for arg in argv)]

    def describe(self) -> str:
        if self.namespace:
            return "root, in a user namespace without privileges"
        return self.name

    @property
    def can_connect(self) -> str:
        """Who the socket lets in: the server's user, and root."""
        return "root" if self.uid == 0 or self.namespace else f"{self.name} and root"


def refused(detail: str) -> str:
    """The line for a root run where the kernel refuses user namespaces."""
    return (f"cannot start the embedded PostgreSQL as root here: {detail.strip()} (a container's default seccomp "
            f"profile, or user.max_user_namespaces = 0): run the scripts as a user other than root, or set "
            f"{USER_ENV} to an existing user for the server to run as (docs/design.md#the-embedded-server)")


def choose(pgdata: Path) -> ServerUser:
    """The user the server on ``pgdata`` runs as; TargetError when there is none it may use."""
    try:
        owner = os.stat(pgdata).st_uid
    except FileNotFoundError:
        owner = None
    except OSError as error:
        raise TargetError(f"cannot read {pgdata} ({error.strerror})") from None
    if os.geteuid() != 0:
        me = user_entry(os.geteuid())
        if owner is not None and owner != me.uid:
            raise TargetError(f"{pgdata} belongs to {user_name(owner)}: the embedded PostgreSQL runs as its data "
                              f"folder's owner: run the scripts as {user_name(owner)}, or give another --pgdata")
        return me
    named = embedded_user()
    if named:
        user = named_user(named)
        if owner is not None and owner != user.uid:
            raise TargetError(f"{pgdata} belongs to {user_name(owner)}, not to {USER_ENV}={named}: give another "
                              f"--pgdata, or unset {USER_ENV}")
        return user
    if owner in (None, 0):
        return ServerUser("root", 0, 0, namespace=True)
    return user_entry(owner, os.stat(pgdata).st_gid)


def named_user(named: str) -> ServerUser:
    try:
        entry = pwd.getpwuid(int(named)) if named.isdigit() else pwd.getpwnam(named)
    except KeyError:
        raise TargetError(f"{USER_ENV}={named}: there is no such user: name an existing user for the embedded "
                          "PostgreSQL to run as") from None
    if entry.pw_uid == 0:
        raise TargetError(f"{USER_ENV}={named} is root, which PostgreSQL refuses to run as: name another user")
    return user_entry(entry.pw_uid)


def user_entry(uid: int, gid: int | None = None) -> ServerUser:
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a uid without a name (a folder from another machine): its own group only
        return ServerUser(str(uid), uid, gid if gid is not None else uid, (gid if gid is not None else uid,))
    return ServerUser(entry.pw_name, uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)))


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def can_search(info: os.stat_result, user: ServerUser) -> bool:
    """Whether ``user``, without privileges, may pass through a folder with this stat."""
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in user.groups or info.st_gid == user.gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def blocking_folder(path: Path, user: ServerUser) -> Path | None:
    """The first folder above ``path`` that ``user`` cannot pass through, or None."""
    for folder in reversed(path.parents):
        try:
            info = os.stat(folder)
        except FileNotFoundError:
            return None  # from here down, the folders are made for the server
        except OSError:
            return folder
        if not can_search(info, user):
            return folder
    return None


def check_reachable(pgdata: Path, user: ServerUser) -> None:
    """As root: refuse, with what to do, a data folder or programs the server's user cannot reach.

    Root passes through any folder; the server, without privileges, does not.
    Opening the folders for it would change modes that are not ours, so the
    run stops instead.
    """
    if os.geteuid() != 0:
        return
    for path, what in ((pgdata, f"--pgdata {pgdata}"), (programs.path("postgres"), "PostgreSQL's programs")):
        folder = blocking_folder(path, user)
        if folder is not None:
            info = os.stat(folder)
            raise TargetError(
                f"the embedded PostgreSQL runs as {user.describe()}, which cannot reach {what}: {folder} is mode "
                f"{stat.S_IMODE(info.st_mode):04o}, owned by {user_name(info.st_uid)}: give a --pgdata that this "
                f"user can reach, or let it through {folder} yourself"
            )


def userns_refused(status: int, stderr: str) -> str | None:
    """The line to show when the launcher said the kernel refused the user namespace, else None."""
    if status != USERNS_REFUSED:
        return None
    return refused(stderr.strip().splitlines()[-1] if stderr.strip() else "user namespaces are refused here")
