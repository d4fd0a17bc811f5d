"""Replace a file in one step: a reader sees the old file or the new one, never half of one.

The new text goes to a temporary file in the same folder (a rename is atomic
only within one file system), which is synced and then renamed over the
file. A crash, a full disk or Ctrl-C leaves the old file as it was; the
temporary file is removed on any error.
"""

import os
import secrets
from pathlib import Path


def replace_file(path, text: str, new_mode: int = 0o666) -> None:
    """Write ``text`` (UTF-8) to ``path`` in one step. A file that is replaced keeps its mode; a new one
    gets ``new_mode``, less the umask, as open() would give it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_mode)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; a file system that cannot sync a folder is left to do its best."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
