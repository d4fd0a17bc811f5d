"""``etl.py --json FILE``: the run's result for an orchestrator, as docs/run-results.md describes it.

Every run writes one document, committed or not: a run that failed before its
checks says so in ``error`` and ``exit_status``. Nothing secret is written:
the target is its redacted label.
"""

import json
import sys

from sparkify import __version__
from sparkify.results import KEPT_REJECTED

SCHEMA_VERSION = 2  # 2: rejected_records holds the first KEPT_REJECTED, rejected_count the number of all


def document(result=None, *, target="", engine=None, exit_status=0, error=None, rejected=(),
             rejected_count=None) -> dict:
    """The JSON document of a run: ``result`` is its RunResult, or None when it failed before one existed
    (``rejected`` and ``rejected_count`` then say what the failed load turned down)."""
    choice = result.choice if result is not None else None
    steps, checks = [], []
    rejected = list(rejected)[:KEPT_REJECTED]
    rejected_count = len(rejected) if rejected_count is None else rejected_count
    if result is not None:
        steps += [{"name": load.table, "files": load.files, "rows": load.rows, "rejected": load.rejected_count,
                   "seconds": round(load.seconds, 3)} for load in result.loads]
        steps += [{"name": step.name, "files": None, "rows": step.rows, "rejected": None,
                   "seconds": round(step.seconds, 3)} for step in result.steps]
        checks = [{"name": check.name, "expected": check.expected, "actual": check.actual, "how": check.how,
                   "passed": check.passed} for check in result.checks]
        if result.loads:
            rejected, rejected_count = result.rejected, result.rejected_count
    return {
        "schema_version": SCHEMA_VERSION,
        "sparkify_version": __version__,
        "target": result.target if result is not None and result.target else target,
        "engine": engine,
        "source": result.source if result is not None else None,
        "mode": result.mode if result is not None else None,
        "reason": result.reason if result is not None else None,
        "files": None if choice is None or choice.files is None else {
            "new": choice.new, "changed": choice.changed, "skipped": choice.skipped, "outside": choice.outside,
            "staged": [item.name for item in choice.staged_files],
        },
        "steps": steps,
        "checks": checks,
        "figures": None if result is None else {
            "plays": result.figures.plays, "matched_plays": result.figures.matched_plays,
            "duplicate_events": result.figures.duplicate_events,
        },
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
        "seconds": round(result.seconds, 3) if result is not None else None,
    }


def write(path: str, data: dict) -> None:
    """Write ``data`` to ``path``, or to standard output for ``-``."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
