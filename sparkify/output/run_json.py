"""``etl.py --json FILE``: the run's result for an orchestrator, as docs/run-results.md describes it.

Every run writes one document, committed or not: a run that failed says so
in ``error`` and ``exit_status``. Nothing secret is written: the target is
its redacted label.

The file is checked before the run starts (``ResultsFile``): a path inside
the source, the embedded PostgreSQL's data folder or the bundled sample, the
config, or an existing file that is not an earlier result is refused (exit
status 2) and nothing is written. At the end it is written in one step
(sparkify/atomic.py): a reader never sees half a document, and a failed
write leaves the file as it was.
"""

import json
import os
import re
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

from sparkify import __version__
from sparkify.atomic import replace_file
from sparkify.config import TargetError, user_path
from sparkify.output.printable import printable
from sparkify.results import KEPT_REJECTED, Figures

# 2: rejected_count; 3: run_id, started_at, ended_at, seconds of the whole command, steps' table and action
SCHEMA_VERSION = 3
# How every document this module writes begins: an existing file is replaced only if it begins so.
RESULT_START = re.compile(rb'\A\{\s*"schema_version"\s*:')


def timestamp(moment: datetime) -> str:
    """A moment in UTC as ISO 8601, to the millisecond: ``2018-11-30T02:15:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def document(result=None, *, run_id="", started=None, ended=None, target="", engine=None, exit_status=0,
             error=None, rejected=(), rejected_count=None) -> dict:
    """The JSON document of a run: ``result`` is its RunResult, or None when it failed before one existed
    (``rejected`` and ``rejected_count`` then say what the failed load turned down); ``started`` and
    ``ended`` (aware datetimes) are those of the whole command, the embedded server's start included."""
    choice = result.choice if result is not None else None
    steps, checks = [], []
    rejected = list(rejected)[:KEPT_REJECTED]
    rejected_count = len(rejected) if rejected_count is None else rejected_count
    if result is not None:
        steps = [{"table": step.table, "action": step.action, "files": step.files, "rows": step.rows,
                  "rejected": step.rejected, "seconds": round(step.seconds, 3)} for step in result.all_steps]
        checks = [{"name": check.name, "expected": check.expected, "actual": check.actual, "how": check.how,
                   "passed": check.passed} for check in result.checks]
        if result.loads:
            rejected, rejected_count = result.rejected, result.rejected_count
    started = started or datetime.now(UTC)
    ended = ended or datetime.now(UTC)
    return {
        "schema_version": SCHEMA_VERSION,
        "sparkify_version": __version__,
        "run_id": run_id,
        "started_at": timestamp(started),
        "ended_at": timestamp(ended),
        "seconds": round((ended - started).total_seconds(), 3),
        "target": result.target if result is not None and result.target else target,
        "engine": engine,
        "source": result.source if result is not None and result.source else None,
        "mode": result.mode if result is not None and result.mode else None,
        "reason": result.reason if result is not None and result.reason else None,
        "files": None if choice is None or choice.files is None else {
            "new": choice.new, "changed": choice.changed, "skipped": choice.skipped, "outside": choice.outside,
            "staged": [item.name for item in choice.staged_files],
        },
        "steps": steps,
        "checks": checks,
        "figures": figures(result),
        "rejected_records": [
            {"table": record.table_name, "file": record.source_file, "line": record.line_number,
             "column": record.column_name, "reason": record.reason, "value": record.raw_value}
            for record in rejected
        ],
        "rejected_count": rejected_count,
        "warnings": result.warnings if result is not None else [],
        "committed": bool(result is not None and result.committed),
        "exit_status": exit_status,
        "error": error,
    }


def figures(result) -> dict | None:
    """The summary's figures; None when the run counted none (it failed first, or it was --check)."""
    if result is None or result.figures == Figures():
        return None
    return {"plays": result.figures.plays, "matched_plays": result.figures.matched_plays,
            "duplicate_events": result.figures.duplicate_events}


def text(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


class ResultsFile:
    """Where --json writes: ``-`` (standard output) or a file, checked before the run and written at its end.

    ``places``: (path, what it is) of the folders and files a run must never
    write into, symlinks followed: the source, the data folder, the config.
    """

    def __init__(self, given: str, places=()):
        self.given = given
        self.path = None if given == "-" else Path(os.path.realpath(user_path(given)))
        self.refused = False
        self.check(places)

    def check(self, places) -> None:
        """A TargetError (exit status 2) for a path the run must not write; it reads, and changes nothing."""
        if self.path is None:
            return
        for place, what in places:
            place = Path(os.path.realpath(user_path(place)))
            if self.path == place or place in self.path.parents:
                self.refuse(f"is {what}" if self.path == place else f"is inside {what} ({place})",
                            "a run never writes there")
        try:
            found = self.path.lstat()
        except FileNotFoundError:
            found = None
        except OSError as error:
            self.refuse(f"cannot be looked at ({error.strerror})", "give another path")
        if found is not None:
            if stat.S_ISDIR(found.st_mode):
                self.refuse("is a folder", "give the path of a file in it")
            if not stat.S_ISREG(found.st_mode):
                self.refuse("is not a regular file (a FIFO, a device or a socket)",
                            "--json replaces the file it names: give the path of a file")
            if found.st_size and not self.holds_a_result():
                self.refuse("is a file that is not an etl.py --json result",
                            "--json replaces only its own results: give another path")
        folder = self.path.parent
        if not folder.is_dir():
            self.refuse(f"is in a folder that does not exist ({folder})", "create it first")
        if not os.access(folder, os.W_OK | os.X_OK):
            self.refuse(f"is in a folder this user cannot write ({folder})", "give a path in a folder you can write")

    def holds_a_result(self) -> bool:
        try:
            with open(self.path, "rb") as file:
                return bool(RESULT_START.match(file.read(256)))
        except OSError:
            return False

    def refuse(self, why: str, what_to_do: str):
        self.refused = True  # never written, then
        raise TargetError(f"--json {printable(self.given)} {why}: {what_to_do}; nothing was run")

    def write(self, data: dict) -> None:
        """Write the document: to standard output, or to the file in one step (an OSError if it cannot)."""
        if self.refused:
            return
        if self.path is None:
            sys.stdout.write(text(data))
            sys.stdout.flush()
        else:
            replace_file(self.path, text(data))
