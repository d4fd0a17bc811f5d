"""A folder on disk as a source (the interface of sparkify/sources/__init__.py)."""

import calendar
import os
import stat
import time
from functools import partial
from operator import itemgetter
from pathlib import Path

from sparkify.output.printable import printable
from sparkify.sources import SourceError, SourceFile, _is_json, check_names, source_name


class LocalSource:
    """A folder on disk."""

    listable = True

    def __init__(self, root):
        self.root = Path(root)
        self.label = printable(self.root)
        self.warnings = []

    def check(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(f"source folder {self.label} not found")

    def files(self, prefix: str) -> list[SourceFile]:
        """Every ``.json`` file below ``prefix``, sorted by name.

        os.scandir rather than Path.rglob, and names cut from the paths rather
        than os.path.relpath: a catalogue of 100,000 song files is listed in a
        fraction of the time (see _list_json).
        """
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        skip = len(os.path.join(str(self.root), ""))  # the paths below start with the root and a separator
        found, left_out = _list_json(str(folder), skip)
        found.sort(key=itemgetter(0))  # by name
        self.warnings.extend(
            f"{self.label}/{printable(source_name(name))}: {why}: not loaded" for name, why in sorted(left_out)
        )
        check_names(found, self.label)
        return found

    def read_bytes(self, name: str) -> bytes:
        """A file's bytes; FileNotFoundError if it is not there, SourceError if it is not a regular file."""
        path = self.root / name
        where = f"{self.label}/{printable(name)}"
        try:
            mode = path.stat().st_mode
            if stat.S_ISDIR(mode):
                raise SourceError(f"{where} is a directory: it must be a file")
            if not stat.S_ISREG(mode):  # a FIFO would block the read forever
                raise SourceError(f"{where} is not a regular file (a FIFO, a socket or a device?)")
            return path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as error:
            raise SourceError(f"cannot read {where}: {error.strerror or error}") from None


def _list_json(folder, skip):
    """(a SourceFile for every regular ``.json`` file below ``folder``, in no particular order,
    [(name, why) of each entry left out that a person must hear of]).

    One loop over a stack of folders, and each SourceFile made from a plain
    tuple: generators, keyword arguments and a named tuple's own ``__new__``
    cost more per file than the directory reads themselves, with 100,000
    files in 17,000 folders. A folder reached twice through symlinks (a loop)
    is listed once; a folder that cannot be listed is a SourceError.
    """
    make = partial(tuple.__new__, SourceFile)
    separate = os.sep != "/"
    found, left_out = [], []
    seen = set()  # (device, inode) of the folders listed
    folders = [folder]
    while folders:
        current = folders.pop()
        try:
            identity = os.stat(current)
            if (identity.st_dev, identity.st_ino) in seen:
                left_out.append((_name(current, skip), "a folder already listed (a symlink loop, or a second link)"))
                continue
            seen.add((identity.st_dev, identity.st_ino))
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError as error:  # a symlink to itself: ELOOP
                        left_out.append((_name(entry.path, skip), f"cannot be read ({error.strerror or error})"))
                        continue
                    if is_dir:
                        folders.append(entry.path)
                    elif _is_json(entry.name):
                        if entry.is_file():
                            path = entry.path
                            status = entry.stat()
                            name = path[skip:]  # the common case inline: 100,000 song files
                            if separate or not name.isascii():
                                name = _name(path, skip)
                            found.append(make((name, status.st_size, partial(open, path, "rb"),
                                               mtime_version(status.st_mtime_ns), path)))
                        else:
                            left_out.append((_name(entry.path, skip), _not_a_file(entry)))
                    elif entry.is_symlink() and not os.path.exists(entry.path):
                        left_out.append((_name(entry.path, skip), _not_a_file(entry)))
        except OSError as error:
            raise SourceError(
                f"cannot list {printable(source_name(current))}: {error.strerror or error} "
                "(a symlink loop? a folder you may not read?)"
            ) from None
    return found, left_out


_SECONDS = {}  # epoch second -> its ISO 8601 text: the files of a folder share a few seconds


def mtime_version(nanoseconds: int) -> str:
    """A file's version in the ledger: its modification time, readable, to the nanosecond.

    ``2018-11-30T12:00:01.123456789Z``: a person reading loaded_files sees a
    time, and the ledger still tells two writes in one second apart. The
    seconds' text is cached: formatting each of 100,000 files anew would
    cost a tenth of a second of the listing.
    """
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    text = _SECONDS.get(seconds)
    if text is None:
        text = _SECONDS[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{fraction:09d}Z"


def version_nanoseconds(version: str) -> int | None:
    """The nanoseconds of a version mtime_version() wrote, or None."""
    try:
        stamp, fraction = version.rstrip("Z").split(".")
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) * 1_000_000_000 + int(fraction)
    except ValueError:
        return None


def _name(path, skip):
    name = path[skip:] if os.sep == "/" else path[skip:].replace(os.sep, "/")
    return source_name(name)


def _not_a_file(entry):
    """Why a .json entry that is not a regular file is left out."""
    if entry.is_symlink():
        try:
            os.stat(entry.path)
        except OSError as error:
            return f"a symlink to nothing readable ({error.strerror or error})"
    try:
        mode = entry.stat().st_mode
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISFIFO(mode):
        return "a FIFO, not a file (never read: it could block the load)"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


