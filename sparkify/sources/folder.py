"""A folder on disk as a source (the interface of sparkify/sources/__init__.py).

Every file is opened here the same guarded way (``open_file``, ``read_file``):
without blocking (O_NONBLOCK: a FIFO would otherwise wait for a writer
forever), then checked on the open descriptor, so that what is read is the
regular file that was checked, never a FIFO, a device or a directory swapped
in. A failed open or read is a ``SourceError`` that names the file and says
what to do.
"""

import calendar
import io
import os
import stat
import time
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from sparkify.output.printable import printable
from sparkify.sources import (
    SourceError,
    SourceFile,
    _is_json,
    check_names,
    not_a_file,
    source_name,
    too_large,
    unreadable,
)

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
READ_BYTES = 64 * 1024  # what read_file asks for at a time, past the size the file had when opened


class LocalSource:
    """A folder on disk."""

    listable = True

    def __init__(self, root):
        self.root = Path(root)
        self.label = printable(self.root)
        self.warnings = []

    def check(self) -> None:
        """SourceNotFound if the folder is not there; SourceError if it is something else (a file...)."""
        try:
            mode = os.stat(self.root).st_mode
        except OSError as error:
            raise unreadable(f"source folder {self.label}", error, self.root) from None
        if not stat.S_ISDIR(mode):
            raise SourceError(
                f"source {self.label} is {not_a_file(mode) or 'a file'}{_link_note(self.root)}, not a folder: "
                "give the folder that holds log_data/, song_data/ and log_json_path.json"
            )

    def files(self, prefix: str) -> list[SourceFile]:
        """Every ``.json`` file below ``prefix``, sorted by name.

        os.scandir rather than Path.rglob, and names cut from the paths rather
        than os.path.relpath: a catalogue of 100,000 song files is listed in a
        fraction of the time (see _list_json).
        """
        folder = self.root / prefix
        if not folder.is_dir():  # not there (nothing to say), or a file, a FIFO, a dangling symlink: said
            try:
                what = not_a_file(os.stat(folder).st_mode)
            except FileNotFoundError:
                what = "a symlink to nothing" if folder.is_symlink() else None
            except OSError as error:
                what = f"unreadable ({error.strerror or error})"
            if what:
                self.warnings.append(f"{self.label}/{printable(prefix)}/ is {what}{_link_note(folder)}, not a "
                                     "folder: nothing loaded from it")
            return []
        skip = len(os.path.join(str(self.root), ""))  # the paths below start with the root and a separator
        found, left_out = _list_json(str(folder), skip)
        found.sort(key=itemgetter(0))  # by name
        self.warnings.extend(
            f"{self.label}/{printable(source_name(name))}: {why}: not loaded" for name, why in sorted(left_out)
        )
        check_names(found, self.label)
        return found

    def first_file(self, prefix: str) -> SourceFile | None:
        """The first of files(prefix): a folder lists fast, and so gets the same guards as a load."""
        found = self.files(prefix)
        return found[0] if found else None

    def read_bytes(self, name: str, limit: int) -> bytes:
        """A file's bytes, at most ``limit`` of them. SourceNotFound if it is not there; SourceError
        if it is not a regular file, is larger than ``limit`` or cannot be read.

        Its kind is checked before it is opened (opening some devices does
        something), and again on the open descriptor (read_file).
        """
        path = self.root / name
        where = f"{self.label}/{printable(name)}"
        try:
            mode = os.stat(path).st_mode
        except OSError as error:
            raise unreadable(where, error, path) from None
        if not_a_file(mode):
            raise _not_regular(where, mode, path)
        return read_file(path, where, limit)


def _link_note(path) -> str:
    """`` (a symlink to X)`` when ``path`` is a symlink, else nothing: what a person needs to find it."""
    try:
        return f" (a symlink to {printable(os.readlink(path))})" if os.path.islink(path) else ""
    except OSError:
        return ""


def _not_regular(where, mode, path) -> SourceError:
    kind = not_a_file(mode)
    return SourceError(f"{where} is {kind}{_link_note(path)}: it must be a file"
                       + (" (a FIFO or a device is never read: it could block or never end)"
                          if kind != "a directory" else ""))


def _open(path, where):
    """(descriptor, size) of ``path``, opened without blocking, if it is a regular file."""
    try:
        descriptor = os.open(path, OPEN_FLAGS)
    except OSError as error:
        raise unreadable(where or _where(path), error, path) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise _not_regular(where or _where(path), status.st_mode, path)
    except OSError as error:
        os.close(descriptor)
        raise unreadable(where or _where(path), error, path) from None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, status.st_size


def _where(path) -> str:
    return printable(source_name(os.fsdecode(path)))


def read_file(path, where: str | None = None, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``: at most ``limit`` of them, refused before reading when
    the file is larger. ``where`` names it in errors (default: its path).

    os.open and os.read: for 100,000 small song files, open() and its
    buffered reader cost twice as much as the reading itself.
    """
    descriptor, size = _open(path, where)
    try:
        if limit is not None and size > limit:
            raise too_large(where or _where(path), size, limit)
        chunks = []
        total = 0
        want = size + 1 if limit is None else min(size, limit) + 1  # the whole file, and its end, in two reads
        while chunk := os.read(descriptor, want):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:  # it grew while it was read
                raise too_large(where or _where(path), total, limit)
            want = READ_BYTES if limit is None else min(READ_BYTES, limit + 1 - total)
        return b"".join(chunks)
    except OSError as error:
        raise unreadable(where or _where(path), error, path) from None
    finally:
        os.close(descriptor)


def open_file(path) -> BinaryIO:
    """The regular file ``path``, open for reading (SourceFile.open of a folder's file).

    A read that fails raises a SourceError naming the file.
    """
    descriptor, _ = _open(path, None)
    stream = SourceStream(descriptor, "rb")
    stream.name = path
    return stream


class SourceStream(io.FileIO):
    """A source file open for reading: a failed read (EIO...) is a SourceError that names the file."""

    def read(self, size=-1):
        try:
            return super().read(size)
        except OSError as error:
            raise unreadable(_where(self.name), error) from None

    def readall(self):
        try:
            return super().readall()
        except OSError as error:
            raise unreadable(_where(self.name), error) from None

    def readinto(self, buffer):
        try:
            return super().readinto(buffer)
        except OSError as error:
            raise unreadable(_where(self.name), error) from None


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
                            found.append(make((name, status.st_size, partial(open_file, path),
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
    return f"{not_a_file(mode)}, not a file (never read)"
