"""Where the source files come from.

A source holds ``song_data/**.json``, ``log_data/**.json`` and
``log_json_path.json`` (SPEC.md section 1). The staging loader sees it through
this small interface, so that a local folder and an S3 prefix load the same
way:

- ``files(prefix)``: the ``.json`` files below ``prefix``, in a stable order,
  each a ``SourceFile`` with its name (relative to the source), size and a way
  to open it;
- ``read_bytes(name)``: one file's content (for ``log_json_path.json``);
  ``FileNotFoundError`` if it is not there.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class SourceFile:
    name: str  # relative to the source, with forward slashes: log_data/2018/11/...
    size: int
    open: Callable[[], BinaryIO]
    version: str = ""  # what says the file changed: mtime for a folder, ETag on S3


class LocalSource:
    """A folder on disk."""

    def __init__(self, root):
        self.root = Path(root)
        self.label = str(self.root)

    def check(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(f"source folder {self.root} not found")

    def files(self, prefix: str) -> list[SourceFile]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.rglob("*.json")):
            if path.is_file():
                stat = path.stat()
                found.append(SourceFile(
                    name=path.relative_to(self.root).as_posix(),
                    size=stat.st_size,
                    open=lambda path=path: open(path, "rb"),
                    version=str(stat.st_mtime_ns),
                ))
        return found

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def open_source(location):
    """The source at ``location``: a folder (str or Path), or already a source object."""
    if hasattr(location, "files"):
        return location
    text = str(location)
    if text.startswith("s3://"):
        raise FileNotFoundError(f"{text}: reading an S3 source for a local target is not supported yet")
    return LocalSource(location)
