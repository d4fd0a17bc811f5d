"""Where the source files come from.

A source holds ``song_data/**.json``, ``log_data/**.json`` and
``log_json_path.json`` (SPEC.md section 1). The staging loader sees it through
this small interface, so that a local folder and an S3 prefix load the same
way:

- ``files(prefix)``: the ``.json`` files below ``prefix``, in a stable order,
  each a ``SourceFile`` with its name (relative to the source), size and a way
  to open it. ``.json`` in any case (``.JSON``, ``.Json``): Redshift's COPY
  reads every object under the prefix, so a file the loader skipped for its
  case would be loaded on Redshift and lost here. A name is at most
  ``MAX_NAME_BYTES`` of UTF-8 (the ledger's file_key and
  rejected_records.source_file hold that much): a longer one is a
  ``SourceError`` naming it, before anything is loaded;
- ``warnings``: lines for a person about what ``files()`` left out and why
  (a dangling symlink, a FIFO, a symlink loop), never silently;
- ``read_bytes(name)``: one file's content (for ``log_json_path.json``);
  ``FileNotFoundError`` if it is not there;
- ``check()``: raise ``FileNotFoundError`` if the source is not there at all;
- ``label``: how to name the source to a person.

A source that cannot be read raises ``SourceError``, worded for a person (what,
where, what to do); ``SourceNotFound`` is also a ``FileNotFoundError``, so the
loader reports a missing source as it reports a missing folder.
"""

import os
import stat
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, NamedTuple

from sparkify.output.printable import excerpt, printable

MAX_NAME_BYTES = 1024  # VARCHAR(1024): the ledger's file_key, rejected_records.source_file


class SourceError(Exception):
    """The source cannot be read: one line that says what failed and what to do."""


class SourceNotFound(SourceError, FileNotFoundError):
    """The source, or the part of it asked for, is not there."""


class SourceFile(NamedTuple):
    """One file of a source. A named tuple: a catalogue lists 100,000 of them,
    and a frozen dataclass takes ten times as long to make."""

    name: str  # relative to the source, with forward slashes: log_data/2018/11/... (UTF-8: see source_name)
    size: int
    open: Callable[[], BinaryIO]
    version: str = ""  # what says the file changed: mtime for a folder, ETag on S3
    path: str | None = None  # on this machine's disk: worker processes may open it themselves


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


def source_name(name: str) -> str:
    """A file name as the loader stores and shows it: always UTF-8.

    A name that is not UTF-8 on disk reaches Python with its bytes as lone
    surrogates (os.fsdecode), which no database column can hold: its bytes
    that are not UTF-8 are written as \\xNN. The same file gets the same name
    on every run, so the ledger knows it again; the SourceFile keeps its
    real path to open it.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def check_names(files, label: str) -> None:
    """SourceError naming the first file whose name is over MAX_NAME_BYTES of UTF-8."""
    for item in files:
        name = item.name
        if len(name) * 4 > MAX_NAME_BYTES and len(name.encode("utf-8")) > MAX_NAME_BYTES:
            shown = printable(excerpt(name, 120)) + " ... " + printable(name[-60:])
            raise SourceError(
                f"{label}/{shown}: the file's name is longer than {MAX_NAME_BYTES} bytes "
                f"({len(name.encode('utf-8')):,}), more than the warehouse stores for a file name: "
                "move or rename it to a shorter path"
            )


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
                            found.append(make((_name(path, skip), status.st_size, partial(open, path, "rb"),
                                               str(status.st_mtime_ns), path)))
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


def _is_json(name):
    return name.endswith(".json") or name[-5:].lower() == ".json"


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


def is_s3(location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


def open_source(location, endpoint_url=None, region=None):
    """The source at ``location``: a folder (str or Path), ``s3://bucket/prefix``,
    or already a source object.

    ``endpoint_url`` and ``region`` only matter for S3 (s3_source.py); boto3 is
    imported only then, so a local run does not pay for it.
    """
    if hasattr(location, "files"):
        return location
    if is_s3(location):
        from sparkify.sources.s3 import S3Source

        return S3Source(location, endpoint_url=endpoint_url, region=region)
    return LocalSource(location)
