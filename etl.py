"""Load the source into the staging tables, then build the star schema: the command line.

    python etl.py                      # the bundled sample into the embedded PostgreSQL
    python etl.py --source DIR         # another local source folder
    python etl.py --source s3://udacity-dend     # read S3 into the local PostgreSQL
    python etl.py --dsn postgresql://... --max-errors 10
    python etl.py --dry-run --engine redshift    # print the statements; connect to nothing

The whole run is one transaction (sparkify/run/pipeline.py), committed only
when every reconciliation check passes: a failed or interrupted run leaves the
previous warehouse as it was (docs/data-contract.md#accounting-checks).
"""

import argparse
import sys
import time
from dataclasses import dataclass, field
from datetime import date

import psycopg2
import psycopg2.errors

from sparkify.checks.reconciliation import run_checks
from sparkify.cli import add_target_arguments
from sparkify.config import Settings, TargetError, load_settings
from sparkify.engines import detect_engine, engine_named
from sparkify.engines.connect import choose_target, connect
from sparkify.output import run_json
from sparkify.output.printable import printable
from sparkify.output.report import Reporter
from sparkify.output.summary import check_summary, one_line, summary
from sparkify.results import CheckFailed, LoadError, Refused, RunResult
from sparkify.run import pipeline
from sparkify.run.dry_run import planned_statements as dry_run_statements
from sparkify.run.interrupt import Terminated, terminate_as_exception
from sparkify.run.ledger import held_source
from sparkify.run.which_source import run_locations
from sparkify.sources import SourceError
from sparkify.sqltext import as_script


def open_run(engine, settings: Settings, source_arg, full, dated, connection=None):
    """(the source, a note for the user or None) for a run of ``engine``: --source, else the source the
    warehouse holds (read through ``connection``), else the bundled sample on PostgreSQL or the [S3]
    paths of the config."""
    held = held_source(connection) if connection is not None and not source_arg else None
    where, note = run_locations(engine, settings, source_arg, held)
    opened, engine_note = engine.open_source(where, full, dated)
    return opened, "\n".join(line for line in (note, engine_note) if line) or None


def run(connection, engine, source, max_errors=0, reporter=None, settings=None, full=True, since=None, until=None,
        workers=None, allow_empty=False, replace_source=False):
    """The ETL as a function: ``engine`` by name, ``source`` a folder, an S3 URL, or None for the source
    the warehouse holds (the engine's default when it holds nothing); ``settings``: config.load_settings()'s
    (None: the defaults); ``replace_source``: as --replace-source."""
    settings = settings or Settings()
    engine = engine_named(engine, settings, workers)
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors, allow_empty=allow_empty,
                               replace_source=replace_source)
    if hasattr(source, "files"):  # already a source object (a folder's or an S3 prefix's)
        opened = source
    else:
        opened, _ = open_run(engine, settings, source, full, bool(since or until), connection)
    try:
        return pipeline.run(connection, engine, opened, request, reporter)
    finally:
        if hasattr(opened, "close"):
            opened.close()


def check_warehouse(connection, engine, reporter):
    """The whole-warehouse checks, once no load is running, in one snapshot; changes nothing."""
    started = time.perf_counter()
    with engine.read_only(connection, reporter), connection.cursor() as cursor:
        checks = run_checks(cursor, engine.enforced_constraints(cursor))
    return checks, time.perf_counter() - started


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _day(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="etl.py",
        description="Stage the Sparkify source data and build the star schema, in one transaction, "
        "then check that every record is accounted for.",
        epilog="What it may remove: a run adds the new files of the source the warehouse holds (a file that "
        "changed is staged again, its rows becoming its new content) and removes no loaded row that a flag "
        "does not name: --full drops the rows of files the source no longer has (a warning names them); "
        "--replace-source drops every row loaded from the source the warehouse holds; --allow-empty lets a "
        "full load leave star tables empty. A run that would remove more is refused (exit status 2), in one "
        "line naming the flag that does it, and commits nothing. Exit status: 0 loaded or nothing new, 1 "
        "failed (nothing committed), 2 a configuration or connection problem or refused, 130 interrupted. "
        "The rule: docs/daily-loads.md, What each command may remove.",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--source",
        metavar="DIR|S3",
        help="a folder or an S3 prefix (s3://bucket/prefix) holding song_data/, log_data/ and "
        "log_json_path.json (default: the source the warehouse holds, as its loaded_files ledger says; for a "
        "warehouse that holds nothing, the bundled sample in data/sample on PostgreSQL, the [S3] paths of "
        "the config on Redshift). Another source than the one the warehouse holds is refused without "
        "--replace-source. S3 is read anonymously when no AWS credentials are configured; AWS_ENDPOINT_URL "
        "or [S3] ENDPOINT_URL points at another S3 store",
    )
    parser.add_argument(
        "--replace-source",
        action="store_true",
        help="let --source replace the source the warehouse holds: every row loaded from it is removed, and "
        "everything is reloaded from --source (default: such a run is refused, exit status 2)",
    )
    parser.add_argument(
        "--max-errors",
        type=int,
        default=0,
        metavar="N",
        help="load the good records and keep up to N rejected ones in rejected_records "
        "(default 0: the first rejected record fails the load, as COPY's MAXERROR 0)",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="let a full load (--full, --replace-source, or the first run) stage no record from log_data/ "
        "or song_data/, and so leave the star tables built from it empty (default: such a load fails and "
        "commits nothing: a source that lost a folder must not empty the warehouse)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--full",
        action="store_true",
        help="reload every source file and rebuild the star schema, dropping the rows of files that the "
        "source no longer has (a warning names them); not with --since/--until (default: stage only the "
        "files that are new since the last run, as the loaded_files ledger says, and update the star)",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="run the whole-warehouse checks and change nothing: a daily run checks only its change, "
        "trusting the warehouse that the run before it left (exit status 1 when a check fails)",
    )
    mode.add_argument(
        "--incremental",
        action="store_true",
        help="stage only the new files: what a run does by default. --dry-run, which cannot read "
        "the ledger, prints the statements of --full unless given --incremental",
    )
    parser.add_argument(
        "--since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="only the log files of this day or later (by the date in their path), for backfills; the days "
        "loaded before are kept",
    )
    parser.add_argument(
        "--until",
        type=_day,
        metavar="YYYY-MM-DD",
        help="only the log files of this day or earlier (by the date in their path)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print every statement the run would send to --engine (default redshift), in order, "
        "as SQL a client can run; connects to nothing",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that parse a large local source (32 MB or more) for a PostgreSQL target "
        "(default: one per core, up to four; 0: all in this process)",
    )
    parser.add_argument("--quiet", action="store_true",
                        help="print only the target, one summary line and errors")
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the run's result as JSON to FILE (- for standard output, the summary then goes to "
        "standard error): target, source, mode, files, steps, checks, rejected records, exit status "
        "(docs/run-results.md)",
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    if args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    if args.full and (args.since or args.until):
        parser.error(pipeline.FULL_WITH_WINDOW.removeprefix("refused: "))
    if args.replace_source and not args.source:
        parser.error("--replace-source needs --source: name the source that replaces the one the warehouse holds")
    if args.replace_source and args.check:
        parser.error("--check changes nothing: it takes no --replace-source")
    return args


def planned_statements(engine, settings=None, max_errors=0, source=None, full=True, since=None, until=None):
    """Every statement a run would send to ``engine`` (by name), in order, without connecting."""
    settings = settings or Settings()
    engine = engine_named(engine, settings)
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors)
    opened, _ = open_run(engine, settings, source, full, bool(since or until))
    return dry_run_statements(engine, opened, request, reads_held_source=not source)


def dry_run(args) -> int:
    engine = args.engine or "redshift"
    try:
        plan = planned_statements(engine, load_settings(args.config), args.max_errors, args.source,
                                  not args.incremental, args.since, args.until)
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"-- etl.py --dry-run: every statement for {engine}, in order; the run's in one transaction")
    print(as_script(plan), end="")
    return 0


@dataclass
class Outcome:
    """What a command ended with, for --json: its result, or the error that stopped it."""

    target: str = ""
    engine: str | None = None
    result: object = None
    error: str | None = None
    rejected: list = field(default_factory=list)


def main(argv=None) -> int:
    with terminate_as_exception():
        return _main(argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args)
    outcome = Outcome()
    reporter = Reporter(quiet=args.quiet, stream=sys.stderr if args.json == "-" else None)
    status = load(args, reporter, outcome)
    if args.json:
        run_json.write(args.json, run_json.document(outcome.result, target=outcome.target, engine=outcome.engine,
                                                    exit_status=status, error=outcome.error,
                                                    rejected=outcome.rejected))
    return status


def load(args, reporter, outcome) -> int:
    """Run what the command line asks; return the exit status. Errors are one line for a person."""
    connection = source = None

    def failed(status, message, committed_nothing=True):
        lines = [printable(line) for line in message.splitlines()]  # source text can reach a message
        outcome.error = lines[0]
        print("\n".join(lines), file=sys.stderr)
        if committed_nothing:
            print("Nothing was committed: the previous warehouse is unchanged.", file=sys.stderr)
        return status

    try:
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        outcome.target = target.label
        reporter.always(f"Target: {target.label}")
        connection = connect(target)
        engine = engine_named(args.engine or detect_engine(connection), settings, args.workers,
                              host=connection.info.host)
        outcome.engine = engine.name
        engine.check_connection(connection)
        if args.check:
            checks, seconds = check_warehouse(connection, engine, reporter)
            reporter.always(check_summary(checks, seconds))
            outcome.result = RunResult(target=target.label, source="", mode="check", checks=checks, seconds=seconds)
            return 0 if all(check.passed for check in checks) else 1
        request = pipeline.Request(full=args.full, since=args.since, until=args.until, max_errors=args.max_errors,
                                   allow_empty=args.allow_empty, replace_source=args.replace_source)
        source, note = open_run(engine, settings, args.source, args.full, bool(args.since or args.until),
                                connection)
        reporter.line(f"Source: {source.label}")
        if note:
            reporter.always(note)
        result = outcome.result = pipeline.run(connection, engine, source, request, reporter, target=target.label)
        reporter.always(one_line(result) if args.quiet else summary(result))
        if args.quiet:  # stdout stays one line for scripts; what must not pass silently goes to stderr
            for line in result.warnings:
                print(line, file=sys.stderr)
        return 0
    except CheckFailed as failure:
        outcome.result = failure.result
        outcome.error = f"{len(failure.result.failed_checks)} of {len(failure.result.checks)} checks failed"
        reporter.always(summary(failure.result))
        return 1
    except (LoadError, SourceError) as error:
        outcome.rejected = getattr(error, "rejected", [])
        return failed(1, f"error: {error}")
    except Refused as error:  # one line: what, why, and the flag that does it; nothing was begun
        return failed(2, str(error), committed_nothing=False)
    except TargetError as error:
        return failed(2, f"error: {error}", committed_nothing=False)
    except psycopg2.errors.UndefinedTable as error:
        return failed(1, f"error: {str(error).splitlines()[0]}: run create_tables.py first")
    except psycopg2.Error as error:
        message = str(error).strip() or type(error).__name__
        if connection is not None and connection.closed:
            return failed(1, f"error: the database connection was lost ({message.splitlines()[0]}): "
                          "run etl.py again once the database is back")
        return failed(1, f"error: the database said: {message}")
    except KeyboardInterrupt:
        outcome.error = "interrupted"
        print("interrupted: nothing was committed, the previous warehouse is unchanged.", file=sys.stderr)
        return 130
    except Terminated as terminated:
        outcome.error = f"terminated ({terminated.name})"
        print(f"terminated ({terminated.name}): nothing was committed, the previous warehouse is unchanged.",
              file=sys.stderr)
        return terminated.exit_code
    finally:
        if hasattr(source, "close"):
            source.close()
        if connection is not None:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
