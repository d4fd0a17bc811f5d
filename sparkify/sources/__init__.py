"""Where the source files come from.

A source holds ``song_data/**.json``, ``log_data/**.json`` and
``log_json_path.json`` (SPEC.md section 1). The staging loader sees it through
this small interface, so that a local folder and an S3 prefix load the same
way:

- ``files(prefix)``: the ``.json`` files below ``prefix``, in a stable order,
  each a ``SourceFile`` with its name (relative to the source), size and a way
  to open it;
- ``read_bytes(name)``: one file's content (for ``log_json_path.json``);
  ``FileNotFoundError`` if it is not there;
- ``check()``: raise ``FileNotFoundError`` if the source is not there at all;
- ``label``: how to name the source to a person.

A source that cannot be read raises ``SourceError``, worded for a person (what,
where, what to do); ``SourceNotFound`` is also a ``FileNotFoundError``, so the
loader reports a missing source as it reports a missing folder.
"""

import os
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, NamedTuple


class SourceError(Exception):
    """The source cannot be read: one line that says what failed and what to do."""


class SourceNotFound(SourceError, FileNotFoundError):
    """The source, or the part of it asked for, is not there."""


class SourceFile(NamedTuple):
    """One file of a source. A named tuple: a catalogue lists 100,000 of them,
    and a frozen dataclass takes ten times as long to make."""

    name: str  # relative to the source, with forward slashes: log_data/2018/11/...
    size: int
    open: Callable[[], BinaryIO]
    version: str = ""  # what says the file changed: mtime for a folder, ETag on S3
    path: str | None = None  # on this machine's disk: worker processes may open it themselves


class LocalSource:
    """A folder on disk."""

    listable = True

    def __init__(self, root):
        self.root = Path(root)
        self.label = str(self.root)

    def check(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(f"source folder {self.root} not found")

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
        found = _list_json(str(folder), skip)
        found.sort(key=itemgetter(0))  # by name
        return found

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def _list_json(folder, skip):
    """A SourceFile for every regular ``.json`` file below ``folder``, in no particular order.

    One loop over a stack of folders, and each SourceFile made from a plain
    tuple: generators, keyword arguments and a named tuple's own ``__new__``
    cost more per file than the directory reads themselves, with 100,000
    files in 17,000 folders.
    """
    make = partial(tuple.__new__, SourceFile)
    found = []
    folders = [folder]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    folders.append(entry.path)
                elif entry.name.endswith(".json") and entry.is_file():
                    path = entry.path
                    stat = entry.stat()
                    name = path[skip:] if os.sep == "/" else path[skip:].replace(os.sep, "/")
                    found.append(make((name, stat.st_size, partial(open, path, "rb"), str(stat.st_mtime_ns), path)))
    return found


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
