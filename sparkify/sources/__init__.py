"""Where the source files come from.

A source holds ``song_data/**.json``, ``log_data/**.json`` and
``log_json_path.json`` (docs/data-contract.md#source-layout). The staging loader sees it through
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
- ``first_file(prefix)``: one ``.json`` file below ``prefix``, or None, without
  listing a whole bucket (doctor.py asks whether a prefix holds any);
- ``warnings``: lines for a person about what ``files()`` left out and why
  (a dangling symlink, a FIFO, a symlink loop), never silently;
- ``read_bytes(name, limit)``: one file's content (for ``log_json_path.json``),
  at most ``limit`` bytes; ``SourceNotFound`` if it is not there;
- ``check()``: raise ``SourceNotFound`` if the source is not there at all;
- ``label``: how to name the source to a person.

Every read is bounded and never blocks: a file is opened only if it is a
regular file (or an S3 object), checked again on the open descriptor, so a
FIFO, a device or a symlink to /dev/zero swapped in is refused, never read;
``read_bytes`` refuses a file over its limit before reading it. A source that
cannot be read raises ``SourceError``, worded for a person (what, which file,
what to do); ``SourceNotFound`` is also a ``FileNotFoundError``, so the
loader reports a missing source as it reports a missing folder.
"""

import errno
import os
import stat
from collections.abc import Callable
from typing import BinaryIO, NamedTuple

from sparkify.output.printable import excerpt, printable

MAX_NAME_BYTES = 1024  # VARCHAR(1024): the ledger's file_key, rejected_records.source_file


class SourceError(Exception):
    """The source cannot be read: one line that says what failed and what to do."""


class SourceNotFound(SourceError, FileNotFoundError):
    """The source, or the part of it asked for, is not there."""


# What to do about an OSError met reading a source file, by its errno.
ADVICE = {
    errno.EACCES: "check its permissions: the user running this must be able to read it",
    errno.EPERM: "check its permissions: the user running this must be able to read it",
    errno.EIO: "the disk or network file system holding it failed: check it (dmesg), or copy the source "
               "elsewhere and run again",
    errno.ELOOP: "it is a symlink loop: fix or remove the link",
    errno.ENOTDIR: "a part of its path is a file, not a folder: check the path",
    errno.ENXIO: "it is a socket or a device, not a file: give a regular file",
    errno.ENAMETOOLONG: "its path is too long for this system: move the source to a shorter path",
    errno.EMFILE: "too many files are open: close other programs, or raise the limit (ulimit -n)",
    errno.ENFILE: "too many files are open: close other programs, or raise the limit (ulimit -n)",
}


def unreadable(where: str, error: OSError, path=None) -> SourceError:
    """An OSError met opening or reading ``where`` (already printable) as one line: which file, why,
    what to do. Not found is ``SourceNotFound``, except for a symlink to nothing, which says so."""
    if isinstance(error, FileNotFoundError):
        if path is not None and os.path.islink(path):
            try:
                target = printable(os.readlink(path))
            except OSError:
                target = "a path"
            return SourceError(f"{where} is a symlink to {target}, which is not there: fix the link, or put the "
                               "file there")
        return SourceNotFound(f"{where} not found")
    reason = error.strerror or type(error).__name__
    advice = ADVICE.get(error.errno, "check that it can be read, then run again")
    return SourceError(f"cannot read {where}: {reason}: {advice}")


def too_large(where: str, size: int, limit: int) -> SourceError:
    """A file or object refused for its size (``where`` already printable)."""
    return SourceError(f"{where} is {size:,} bytes or more, larger than the {limit:,} it may be here: "
                       "is it the right file? (if it changed during the run, run again)")


def not_a_file(mode: int) -> str | None:
    """What a path of this ``st_mode`` is, when it is not a regular file ("a directory", "a FIFO"...)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (a named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class SourceUnreachable(SourceError):
    """The store that holds the source (S3) did not answer: the network, or its endpoint (exit status 2)."""


class SourceFile(NamedTuple):
    """One file of a source. A named tuple: a catalogue lists 100,000 of them,
    and a frozen dataclass takes ten times as long to make."""

    name: str  # relative to the source, with forward slashes: log_data/2018/11/... (UTF-8: see source_name)
    size: int
    open: Callable[[], BinaryIO]
    version: str = ""  # what says the file changed: mtime for a folder, ETag on S3
    path: str | None = None  # on this machine's disk: worker processes may open it themselves


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


def holds_nothing(label: str) -> str:
    """The error for a source without a single file to load: the wrong folder or prefix, most likely."""
    return f"{label} holds no log_data/**.json and no song_data/**.json: is it the right source?"


def _is_json(name):
    return name.endswith(".json") or name[-5:].lower() == ".json"


def is_s3(location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


def open_source(location, endpoint_url=None, region=None):
    """The source at ``location``: a folder (str or Path), ``s3://bucket/prefix``,
    or already a source object.

    ``endpoint_url`` and ``region`` only matter for S3 (s3.py); boto3 is
    imported only then, so a local run does not pay for it.
    """
    if hasattr(location, "files"):
        return location
    if is_s3(location):
        from sparkify.sources.s3 import S3Source

        return S3Source(location, endpoint_url=endpoint_url, region=region)
    from sparkify.sources.folder import LocalSource

    return LocalSource(location)

