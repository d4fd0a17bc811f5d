"""One run, as a straight sequence: lock, choose files, stage, transform, record, check, commit or roll back.

The same sequence serves a real run and ``--dry-run`` (dry_run.py), on every
engine and in both modes: what differs by database is the engine's
(sparkify/engines/), what differs between a full and a daily load is the
mode's (mode.py). The transaction is committed only when every check passes
(docs/data-contract.md#accounting-checks), so a failed or interrupted run leaves the
previous warehouse as it was.
"""

import contextlib
import time
from dataclasses import dataclass
from datetime import date

from sparkify.engines.errors import ConnectionLost
from sparkify.output.report import Reporter
from sparkify.results import CHECKS, CheckFailed, Refused, RunResult, Step
from sparkify.run.ledger import choose_files, source_identity
from sparkify.run.mode import mode_for


@dataclass(frozen=True)
class Request:
    """What the command line asked for."""

    full: bool = True
    since: date | None = None
    until: date | None = None
    max_errors: int = 0
    allow_empty: bool = False  # a full load may stage no record for a table (--allow-empty)
    replace_source: bool = False  # this run's source may replace the one the warehouse holds (--replace-source)

    def __post_init__(self):
        if self.full and (self.since or self.until):
            raise Refused(FULL_WITH_WINDOW)


# One meaning on every engine: --full reloads the whole source, and a window never shrinks the warehouse to it.
FULL_WITH_WINDOW = ("refused: --full reloads every file of the source, and --since/--until choose the log files "
                    "of a daily run: give one or the other (a daily run with --since/--until loads those days "
                    "and keeps the others)")


def run(connection, engine, source, request=None, reporter=None, target="", choose=choose_files,
        result=None) -> RunResult:
    """The whole ETL in one transaction; raises CheckFailed (rolled back) when a check fails.

    ``source`` is what ``engine.open_source()`` gave; ``choose`` picks the
    files to stage (ledger.choose_files, or a dry run's assumption). The run
    fills in ``result`` as it goes, when given one: a run that fails leaves in
    it what it had done (its mode, its files), for --json.
    """
    request, reporter = request or Request(), reporter or Reporter(quiet=True)
    started = time.perf_counter()
    result = result or RunResult(target=target, source=source_identity(source))
    with engine.translated(connection), transaction(connection, engine, reporter) as cursor:
        engine.lock(cursor, reporter)
        listed = time.perf_counter()
        result.choice = choose(cursor, source, request)
        result.listing_seconds = time.perf_counter() - listed
        mode = mode_for(result.choice, request.allow_empty)
        result.mode, result.reason = mode.name, mode.reason
        if result.nothing_new:
            return finished(result, started, commit=False, connection=connection, engine=engine)
        reporter.line(result.choice.describe())
        result.loads = engine.stage(cursor, source, mode, request.max_errors, reporter)
        for load in result.loads:
            reporter.step_done(load.step())
        mode.check_staged(result.loads, source.label)
        result.steps = mode.transform(cursor, engine, reporter)
        mode.record(cursor, result.loads, engine)
        checked = time.perf_counter()
        result.checks = mode.check(cursor, engine)
        result.figures = mode.figures(cursor, result.checks)
        mode.finish(cursor)
        result.checks_seconds = time.perf_counter() - checked + mode.checks_seconds
        result.checks_on_change = mode.checks_on_change
        result.steps.append(Step(None, CHECKS, None, result.checks_seconds))
        if result.failed_checks:
            finished(result, started, commit=False, connection=connection, engine=engine)
            raise CheckFailed(result)
    finished(result, started, commit=True, connection=connection, engine=engine)
    for step in engine.after_commit(connection, mode, reporter):
        reporter.step_done(step)
        result.steps.append(step)
    return result


@contextlib.contextmanager
def transaction(connection, engine, reporter):
    """The engine's cursor, inside one transaction that any error or Ctrl-C rolls back."""
    try:
        with engine.cursor_on(connection, reporter) as cursor, engine.cancelling(connection):
            yield cursor
    except BaseException as error:
        with contextlib.suppress(ConnectionLost):  # a lost connection: the server rolled back
            engine.rollback(connection)
        if isinstance(error, Exception):  # not Ctrl-C, SIGTERM or SIGHUP, which end the run at once
            engine.after_rollback(connection, reporter)
        raise


def finished(result, started, commit, connection, engine) -> RunResult:
    if commit:
        engine.commit(connection)
    else:
        engine.rollback(connection)
    result.committed = commit
    result.seconds = time.perf_counter() - started
    return result
