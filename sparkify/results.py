"""What a run produces, in types that every engine, the run and the output share.

A load stages ``TableLoad``s (with their ``RejectedRecord``s), the transform
runs ``Step``s, the checks give ``Check``s, and the run returns one
``RunResult`` holding them all, which the summary prints and ``--json`` writes.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from sparkify.config import TargetError
from sparkify.output.printable import clip, printable

# Rejected records a run holds in memory and shows (the summary, --json): the first this many, with
# the count of all of them; every one goes to the rejected_records table (docs/run-results.md).
KEPT_REJECTED = 100


class Failed(Exception):
    """The work failed, for a reason worded for a person (exit status 1: sparkify/cli.py)."""


class Refused(TargetError):
    """The command would remove loaded data without naming that removal: refused before anything changed.

    One line that says what was refused, why, and the flag or command that
    does it (docs/daily-loads.md#what-each-command-may-remove). Exit status 2,
    as for any command that must change; nothing is committed.
    """


class LoadError(Failed):
    """The load failed; ``rejected`` holds the first records that were turned down, ``rejected_count``
    how many there were (by default, as many as ``rejected``)."""

    def __init__(self, message, rejected=(), rejected_count=None):
        super().__init__(message)
        self.rejected = list(rejected)
        self.rejected_count = len(self.rejected) if rejected_count is None else rejected_count


def too_many_rejected(table: str, records, count: int, max_errors: int, said: str | None = None, shown: int = 1,
                      look_up: str | None = None, unknown: str = "rejected") -> str:
    """The message of a load stopped by more rejected records than --max-errors, the same on every engine:
    the first record (its source text escaped: printable), up to ``shown`` of them, where to see the rest
    (``look_up``), and what to do. ``said``: what the database said, if it stopped the load itself."""
    lines = [f"{table}: {records[0].describe() if records else unknown}"]
    if records and records[0].raw_record:
        lines.append(f"  record: {printable(records[0].raw_record[:200])}")
    lines += [f"  also {record.describe()}" for record in records[1:shown]]
    if look_up and count > shown:
        lines.append(f"  ... and {count - shown} more: {look_up}")
    lines.append(
        f"The load stopped: {count} rejected record(s), more than --max-errors {max_errors}"
        f"{f' (Redshift said: {said})' if said else ''}. Fix the source, or rerun with --max-errors N to load "
        "the good records and keep the rejected ones in rejected_records."
    )
    return "\n".join(lines)


# the sizes of rejected_records' columns (sql_queries.py), in bytes
REASON_BYTES = RAW_VALUE_BYTES = 1024
RAW_RECORD_BYTES = 65535


@dataclass
class RejectedRecord:
    """A source record that could not be staged (docs/data-contract.md#rejected-records)."""

    table_name: str
    source_file: str
    line_number: int
    column_name: str | None
    reason: str
    raw_value: str | None
    raw_record: str

    def __post_init__(self):
        # rejected_records' columns hold bytes on Redshift: cut to them, at a character, saying so
        self.reason = clip(self.reason, REASON_BYTES)
        self.raw_value = clip(self.raw_value, RAW_VALUE_BYTES)
        self.raw_record = clip(self.raw_record, RAW_RECORD_BYTES)

    def describe(self) -> str:
        """file:line, column: why, for a person: source data in it is escaped (printable)."""
        column = f", column {self.column_name}" if self.column_name else ""
        return printable(f"{self.source_file}:{self.line_number}{column}: {self.reason}")


STAGED = "rows staged"  # a staging table's step
CHECKS = "checks"  # the checks' step


@dataclass
class TableLoad:
    """What staging one table did.

    ``rejected`` holds the rejected records the engine keeps in memory: the
    local loader the first KEPT_REJECTED (reject() counts and keeps them; the
    others go to rejected_records as they are found), Redshift the first its
    load-error views gave (the others go to rejected_records as they are
    read). ``rejected_count`` is how many there were in all,
    ``rejected_by_file`` how many from each file (for the ledger); both
    default to what ``rejected`` holds.
    """

    table: str
    files: int = 0
    bytes: int = 0
    rows: int | None = 0  # None: the engine could not tell (a dry run)
    rejected: list = field(default_factory=list)
    seconds: float = 0.0
    file_rows: dict = field(default_factory=dict)  # rows staged from each file, for the ledger
    warnings: list = field(default_factory=list)  # lines about files left out of the listing (never silent)
    all_null_columns: list = field(default_factory=list)  # columns NULL in every staged row (a JSONPaths typo?)
    rejected_count: int | None = None
    rejected_by_file: dict | None = None

    def __post_init__(self):
        if self.rejected_count is None:
            self.rejected_count = len(self.rejected)
        if self.rejected_by_file is None:
            self.rejected_by_file = {}
            for record in self.rejected:
                self.rejected_by_file[record.source_file] = self.rejected_by_file.get(record.source_file, 0) + 1

    def reject(self, record) -> None:
        """Count one more rejected record, and keep it if fewer than KEPT_REJECTED are kept."""
        self.rejected_count += 1
        self.rejected_by_file[record.source_file] = self.rejected_by_file.get(record.source_file, 0) + 1
        if len(self.rejected) < KEPT_REJECTED:
            self.rejected.append(record)

    def step(self) -> "Step":
        return Step(self.table, STAGED, self.rows, self.seconds, self.files, self.rejected_count)

    def warning_lines(self) -> list[str]:
        """What a person must hear of this table's load: files left out, columns that got no value."""
        lines = [f"{self.table}: {printable(line)}" for line in self.warnings]
        for column in self.all_null_columns:
            lines.append(f"{self.table}: column {column} is NULL in every one of the {self.rows or 0:,} staged rows: "
                         + ("is its path misspelt in log_json_path.json?" if self.table == "staging_events"
                            else "does no source record have that key?"))
        return lines


class Step(NamedTuple):
    """One step of a run, as the progress lines, the summary's table and --json show it: one each.

    ``table`` is the table it wrote (None for the listing, the checks, a
    VACUUM of several tables); ``action`` what it did, in words a person
    reads after ``rows`` ("rows inserted", "plays added"); ``files`` and
    ``rejected`` are known for the listing and the staging only.
    """

    table: str | None
    action: str
    rows: int | None
    seconds: float
    files: int | None = None
    rejected: int | None = None

    @property
    def name(self) -> str:
        """The step in one phrase: ``songplay_table: plays added``, ``checks``."""
        return f"{self.table}: {self.action}" if self.table else self.action


@dataclass(frozen=True)
class Check:
    """One reconciliation check: it passes when ``expected`` equals ``actual``.

    ``enforced_by`` names the PostgreSQL constraint that holds it, when the
    check read the catalogue instead of counting.
    """

    name: str
    expected: int | None
    actual: int | None
    enforced_by: str | None = None

    @property
    def passed(self) -> bool:
        return self.expected == self.actual

    @property
    def how(self) -> str:
        return f"enforced: {self.enforced_by.split(' (')[0]}" if self.enforced_by else "counted"


@dataclass
class Figures:
    """The summary's figures: plays written, how many matched the catalogue, duplicates counted once."""

    plays: int | None = None
    matched_plays: int | None = None
    duplicate_events: int | None = None


@dataclass
class RunResult:
    """Everything one run did, whether it committed or not."""

    target: str
    source: str
    mode: str = ""  # "full" or "daily"
    reason: str = ""
    choice: object = None  # ledger.Choice: the files chosen, None when COPY read whole prefixes
    listing_seconds: float | None = None
    loads: list[TableLoad] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    checks_on_change: int = 0  # how many of the checks are of this run's change (a daily run)
    checks_seconds: float | None = None
    figures: Figures = field(default_factory=Figures)
    committed: bool = False
    seconds: float = 0.0

    @property
    def all_steps(self) -> list[Step]:
        """Every step the run took, in order, one each: the listing, the staging of each table, the
        transform's steps, the checks, the work after the commit."""
        listing = []
        if self.listing_seconds is not None and self.choice is not None and self.choice.files is not None:
            listing.append(Step(None, "listing", None, self.listing_seconds, files=self.choice.listed))
        return listing + [load.step() for load in self.loads] + self.steps

    @property
    def rejected(self) -> list[RejectedRecord]:
        """The first KEPT_REJECTED rejected records of the run, table after table."""
        return [record for load in self.loads for record in load.rejected][:KEPT_REJECTED]

    @property
    def rejected_count(self) -> int:
        """How many records the run rejected in all."""
        return sum(load.rejected_count for load in self.loads)

    @property
    def warnings(self) -> list[str]:
        """Lines for a person, each starting with "warning: ": what the run left out or kept silently."""
        lines = self.choice.warning_lines() if self.choice is not None else []
        lines += [line for load in self.loads for line in load.warning_lines()]
        return [f"warning: {line}" for line in lines]

    @property
    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def nothing_new(self) -> bool:
        return self.choice is not None and self.choice.nothing_new


class CheckFailed(Failed):
    """A reconciliation check failed: the run was rolled back. ``result`` says which."""

    def __init__(self, result: RunResult):
        super().__init__(f"{len(result.failed_checks)} of {len(result.checks)} checks failed")
        self.result = result
