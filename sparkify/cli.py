"""The command line: the five scripts' commands, what they share, and the one exit map.

Each script (etl.py, create_tables.py, query.py, doctor.py, cluster.py)
parses its arguments and calls its command here, which does the work through
the package and ends with one exit status, the same for every script
(docs/failures.md#exit-statuses):

    0         done
    1         the work failed: a load, a check, a statement (nothing committed)
    2         the configuration, or reaching the database, S3 or the AWS APIs;
              or refused: the command would remove what it does not name
    3         done (etl.py: committed, or nothing new), but its output or its --json file could not be written;
              query.py stops there, nothing committed
    130       Ctrl-C
    143, 129  SIGTERM, SIGHUP (128 + the signal's number)

What stopped a command is one line on standard error (a load stopped by a
rejected record adds an excerpt of it); a command refused because it would
remove what it does not name says so in one line that starts with
"refused:" (exit status 2). Only a bug prints a traceback.
"""

import argparse
import contextlib
import functools
import sys
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sparkify import __version__
from sparkify.config import Malformed, TargetError
from sparkify.engines.errors import ConnectionLost, DatabaseError, LockTimeout, UndefinedTable
from sparkify.output.printable import printable
from sparkify.output.streams import OutputLost, print_lines
from sparkify.results import Failed, Refused
from sparkify.run.interrupt import Terminated, terminate_as_exception
from sparkify.sources import SourceError, SourceUnreachable

OK, FAILED, CONFIG_ERROR, OUTPUT_LOST, INTERRUPTED = 0, 1, 2, 3, 130

EXIT_STATUSES = (
    "exit status: 0 done; 1 the work failed (nothing committed); 2 a configuration or connection problem "
    "(the database, S3 or the AWS APIs), or refused (it would remove what it does not name); 3 done (etl.py: "
    "committed, or nothing new), but its output or --json file could not be written; 130 Ctrl-C; "
    "143 SIGTERM, 129 SIGHUP (docs/failures.md#exit-statuses)"
)


def add_target_arguments(parser) -> None:
    """The options every script that talks to the warehouse takes."""
    from sparkify.engines import ENGINES

    parser.add_argument("--version", action="version", version=f"%(prog)s (sparkify) {__version__}")
    parser.add_argument(
        "--engine",
        choices=sorted(ENGINES, reverse=True),
        help="the SQL dialect of the target (default: asked of the server with version())",
    )
    parser.add_argument(
        "--dsn",
        help="connect to this libpq DSN or URI (PostgreSQL or Redshift). The target is the first of: --dsn or "
        "--pgdata (not both), $DWH_DSN, [CLUSTER] HOST of the config, the embedded PostgreSQL: a flag wins over "
        "the environment, which wins over the config",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file, read or an error, never replaced by a default (default: $DWH_CONFIG, else "
        "dwh.cfg next to the scripts; the flag wins over the variable)",
    )
    parser.add_argument(
        "--pgdata",
        metavar="DIR",
        help="use the embedded PostgreSQL with this data folder, whatever $DWH_DSN or [CLUSTER] HOST say: a "
        "path that does not exist yet (it is made, mode 0700) or the folder of an earlier run (default, when "
        "neither names a target: .pgdata in the project)",
    )


def add_lock_timeout_argument(parser) -> None:
    """--lock-timeout, for the scripts whose statements may wait for another session's lock."""
    from sparkify.engines.lock_wait import DEFAULT_LOCK_TIMEOUT, FIRST_REPORT

    parser.add_argument(
        "--lock-timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"give up when a statement has waited SECONDS for a lock that another session holds (a notebook or "
        f"a BI tool idle in its transaction, say): exit status 1, nothing committed, and the session named. "
        f"Who holds up a statement is said after {FIRST_REPORT:g} s of waiting, then every minute. 0: no "
        f"limit (default: $DWH_LOCK_TIMEOUT, else [RUN] LOCK_TIMEOUT of the config, else "
        f"{DEFAULT_LOCK_TIMEOUT:g}; that default does not apply to waiting for another etl.py run, which "
        f"is waited for without a limit unless a timeout is given)",
    )


def _seconds(text):
    from sparkify.config import KEYS

    try:
        return KEYS[("RUN", "LOCK_TIMEOUT")][2](text)
    except Malformed as error:
        raise argparse.ArgumentTypeError(f"{error}, not {text!r}") from None


def lock_policy(settings, flag=None):
    """The lock timeout: --lock-timeout, else $DWH_LOCK_TIMEOUT or [RUN] LOCK_TIMEOUT, else the default."""
    from sparkify.engines.lock_wait import LockPolicy

    if flag is not None:
        return LockPolicy(flag, "--lock-timeout")
    if settings.run.lock_timeout is not None:
        return LockPolicy(settings.run.lock_timeout, settings.run.lock_timeout_named_by)
    return LockPolicy()


def watching_locks(engine, connection, target, policy, say, quiet=False):
    """engine.watching_locks() for a command's connection: the watch connects to ``target`` on its own.
    With --quiet its lines go to standard error, as warnings do: standard output keeps the lines --quiet
    promises."""
    from sparkify.engines.connect import connect
    from sparkify.engines.lock_wait import APPLICATION

    if quiet:
        say = functools.partial(print, file=sys.stderr, flush=True)
    return engine.watching_locks(connection, lambda: connect(target, attempts=1, application=APPLICATION), say,
                                 policy)


# ---------------------------------------------------------------------------
# The exit map
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    """What a script says when it stops: ``stopped`` after "interrupted: " or "terminated (SIGTERM): ",
    and ``unchanged``, the line after a failure that left everything as it was."""

    script: str
    stopped: str = ""
    unchanged: str = ""
    target: str = ""  # the target's options as given (target_options), for advice to run another script


def target_options(args) -> str:
    """The options that chose the command's target, to repeat in advice ("run create_tables.py --pgdata DIR
    first"): another script run without them would act on another warehouse. A DSN is never repeated (it may
    hold a password)."""
    options = []
    if getattr(args, "config", None):
        options.append(f" --config {args.config}")
    if getattr(args, "pgdata", None):
        options.append(f" --pgdata {args.pgdata}")
    if getattr(args, "dsn", None):
        options.append(" --dsn <the same DSN>")
    return "".join(options)


def exit_status(error: BaseException) -> int | None:
    """The exit status for what stopped a command; None for a bug (its traceback is printed)."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, OutputLost):
        return OUTPUT_LOST
    if isinstance(error, Terminated):
        return error.exit_code
    if isinstance(error, (TargetError, ConnectionLost, SourceUnreachable)) or _aws(error) is not None:
        return CONFIG_ERROR
    if isinstance(error, (Failed, SourceError, DatabaseError)):
        return FAILED
    return None


def stopped_by(error: BaseException, wording: Wording) -> tuple[int, list[str]] | None:
    """(exit status, the lines for standard error) for what stopped a command; None for a bug."""
    status = exit_status(error)
    if status is None:
        return None
    if isinstance(error, OutputLost):
        return status, [f"error: {error}: {wording.script} stopped there, {wording.stopped} (exit status {status})"]
    if isinstance(error, (KeyboardInterrupt, Terminated)):
        what = "interrupted" if isinstance(error, KeyboardInterrupt) else f"terminated ({error.name})"
        return status, [f"{what}: {wording.stopped}." if wording.stopped else what]
    said = str(error) if isinstance(error, Refused) else f"error: {_message(error, wording)}"  # "refused: ..."
    lines = [printable(line) for line in said.splitlines()]  # source text, too
    if wording.unchanged and not isinstance(error, TargetError):
        lines.append(wording.unchanged)
    return status, lines


def _message(error: BaseException, wording: Wording) -> str:
    if isinstance(error, ConnectionLost):
        return (f"the database connection was lost ({error.first_line}): run {wording.script} again once the "
                "database is back")
    if isinstance(error, UndefinedTable):
        return f"{error.first_line}: run create_tables.py{wording.target} first"
    if isinstance(error, LockTimeout):
        return str(error)
    if isinstance(error, DatabaseError):
        return f"the database said: {str(error).strip() or type(error).__name__}"
    aws = _aws(error)
    return aws if aws is not None else str(error)


def _aws(error) -> str | None:
    """What an exception of boto3 (botocore) means for a person, or None when it is none of them.

    boto3 is imported only by the commands that need it: an exception can be
    botocore's only when botocore is loaded.
    """
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(error, exceptions.BotoCoreError):
        return None
    if isinstance(error, exceptions.NoCredentialsError):
        return "no AWS credentials found: run `aws sso login` (or `aws configure`), or set AWS_PROFILE"
    if isinstance(error, exceptions.NoRegionError):
        return "no AWS region: set [DWH] REGION in the config, or AWS_DEFAULT_REGION"
    return f"could not talk to AWS: {error}"


def command(wording: Wording):
    """Make ``function(args)`` a command: it runs with SIGTERM and SIGHUP as exceptions, and returns the
    exit status that the exit map gives what stopped it, said in one line on standard error."""
    def decorate(function):
        @functools.wraps(function)
        def run(args) -> int:
            with terminate_as_exception():
                try:
                    return function(args) or OK
                except BaseException as error:
                    stopped = stopped_by(error, replace(wording, target=target_options(args)))
                    if stopped is None:
                        raise
                    status, lines = stopped
                    print_lines(lines, sys.stderr)  # never an error of its own: stderr may be a closed pipe
                    return status
        return run
    return decorate


# ---------------------------------------------------------------------------
# etl.py
# ---------------------------------------------------------------------------

ETL = Wording("etl.py", "nothing was committed, the previous warehouse is unchanged",
              "Nothing was committed: the previous warehouse is unchanged.")


@dataclass
class Outcome:
    """What a command ended with, for --json: its result, or the error that stopped it."""

    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    target: str = ""
    engine: str | None = None
    result: object = None
    error: str | None = None
    rejected: list = field(default_factory=list)  # the first of them...
    rejected_count: int | None = None  # ...and how many there were
    status: int = OK

    @property
    def committed(self) -> bool:
        return bool(getattr(self.result, "committed", False))


@command(ETL)
def etl(args) -> int:
    """etl.py: a dry run, the whole-warehouse checks, or a load; with --json, its result as JSON.

    Its output never decides whether the data loads: standard output and
    standard error are guarded (sparkify/output/streams.py), and a run that
    did its work but lost its output or its --json file ends with OUTPUT_LOST.
    """
    from sparkify.output import run_json
    from sparkify.output.report import Reporter
    from sparkify.output.streams import guarded_output

    with guarded_output() as output:
        outcome = Outcome()
        if args.dry_run:
            outcome.status = etl_dry_run(args)
            return output_told(output, outcome)
        results = run_json.ResultsFile(args.json, protected_places(args)) if args.json else None
        reporter = Reporter(quiet=args.quiet, stream=sys.stderr if args.json == "-" else None)
        try:
            load(args, reporter, outcome, results)
        except BaseException as error:
            stopped = (stopped_by(error, replace(ETL, target=target_options(args)))
                       or (FAILED, [f"error: {type(error).__name__}: {error}"]))  # a bug
            outcome.status, outcome.error = stopped[0], stopped[1][0]
            outcome.rejected = getattr(error, "rejected", [])
            outcome.rejected_count = getattr(error, "rejected_count", None)
            raise
        finally:
            output_told(output, outcome, results)
        return outcome.status


def output_told(output, outcome, results=None) -> int:
    """Write the --json document, and say what could not be written; the exit status, true to what the run did.

    A run that did its work (status 0) but lost standard output, standard
    error or its --json file ends with OUTPUT_LOST, whatever it committed: a
    scheduler must not take an old results file for this run's. A run that
    failed keeps its status.
    """
    from sparkify.output import run_json

    done = "the load is committed" if outcome.committed else "the run is done"
    lines = []
    if output.lost and outcome.status == OK:
        outcome.status, outcome.error = OUTPUT_LOST, _lost(done, output.lost)
        lines.append(outcome.error)
    if results is not None:
        document = run_json.document(outcome.result, run_id=outcome.run_id, started=outcome.started,
                                     ended=datetime.now(UTC), target=outcome.target, engine=outcome.engine,
                                     exit_status=outcome.status, error=outcome.error, rejected=outcome.rejected,
                                     rejected_count=outcome.rejected_count)
        try:
            results.write(document)
        except OSError as error:
            said = f"--json {results.given} could not be written ({error.strerror or error}): it is as it was"
            if outcome.status == OK:
                outcome.status = OUTPUT_LOST
                said = f"{done}, but {said} (exit status {OUTPUT_LOST})"
            lines.append(f"error: {said}")
        if outcome.status == OK and output.stdout.lost:  # --json - into a pipe closed meanwhile
            outcome.status = OUTPUT_LOST
            lines.append(_lost(done, [output.stdout]))
    for line in lines:
        output.say(line)
    return outcome.status


def _lost(done, streams) -> str:
    return (f"warning: {done}, but {' and '.join(stream.describe() for stream in streams)} could not be written: "
            f"its output was cut short (exit status {OUTPUT_LOST})")


def protected_places(args) -> list[tuple]:
    """(path, what it is) of what --json must never write into: the source, the data folders of the embedded
    PostgreSQL, the bundled sample, the config (sparkify/output/run_json.py)."""
    from sparkify.config import DEFAULT_SOURCE, config_path, is_s3
    from sparkify.engines.embedded import DEFAULT_PGDATA

    places = [(DEFAULT_PGDATA, "the embedded PostgreSQL's data folder"), (DEFAULT_SOURCE, "the bundled sample")]
    if args.pgdata:
        places.append((args.pgdata, "the embedded PostgreSQL's data folder"))
    if args.source and not is_s3(args.source):
        places.append((args.source, "the source"))
    try:
        places.append((config_path(args.config)[0], "the config"))
    except TargetError:
        pass  # the run stops on it with its own line, and writes --json
    return places


def etl_dry_run(args) -> int:
    """The script of a run, connecting to nothing: a setting the config does not give is a placeholder, said
    in a comment at the top and in one line on standard error."""
    from sparkify.api import placeholders, plan
    from sparkify.config import load_settings
    from sparkify.sqltext import as_script

    refuse_combinations(args)

    engine = args.engine or "redshift"
    settings = load_settings(args.config)
    statements = plan(engine, settings, args.max_errors, args.source, not args.incremental, args.since, args.until)
    _, missing = placeholders(engine, settings, args.source)
    print(f"-- etl.py --dry-run: every statement for {engine}, in order; the run's in one transaction")
    if missing:
        said = f"the config does not set {', '.join(missing)}: the script shows '<[SECTION] KEY>' in their place"
        print(f"-- placeholders: {said}; set them (see dwh.cfg.example) before a real run")
        print(f"note: {said}", file=sys.stderr, flush=True)
    print(as_script(statements), end="")
    return OK


def refuse_combinations(args) -> None:
    """Options that together would remove what the command line does not name: Refused (exit 2, one
    ``refused:`` line, the --json file written), before anything connects (docs/daily-loads.md)."""
    from sparkify.run import pipeline

    pipeline.Request(full=args.full, since=args.since, until=args.until)  # refuses --full with a window
    if args.replace_source and not args.source:
        raise Refused("refused: --replace-source needs --source: name the source that replaces the one the "
                      "warehouse holds")
    if args.replace_source and args.check:
        raise Refused("refused: --check changes nothing: it takes no --replace-source")


def load(args, reporter, outcome, results=None) -> None:
    """What etl.py's command line asks, but a dry run: the checks, or a load. ``results``: the --json file."""
    from sparkify.api import check, open_run
    from sparkify.config import load_settings
    from sparkify.engines import detect_engine, engine_named
    from sparkify.engines.connect import choose_target, connect
    from sparkify.output.summary import check_summary, one_line, summary
    from sparkify.results import CHECKS, CheckFailed, RunResult, Step
    from sparkify.run import pipeline
    from sparkify.run.ledger import source_identity

    connection = source = None
    locks = contextlib.ExitStack()
    try:
        refuse_combinations(args)
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        outcome.target = target.label
        reporter.always(f"Target: {target.label}")
        connection = connect(target)
        engine = engine_named(args.engine or detect_engine(connection), settings, args.workers,
                              host=connection.info.host)
        outcome.engine = engine.name
        engine.check_connection(connection)
        locks.enter_context(watching_locks(engine, connection, target, lock_policy(settings, args.lock_timeout),
                                           reporter.always, args.quiet))
        if args.check:
            checks, seconds = check(connection, engine, reporter)
            reporter.always(check_summary(checks, seconds, quiet=args.quiet))
            outcome.result = RunResult(target=target.label, source="", mode="check", checks=checks, seconds=seconds,
                                       steps=[Step(None, CHECKS, None, seconds)])
            if outcome.result.failed_checks:
                raise CheckFailed(outcome.result)
            return
        request = pipeline.Request(full=args.full, since=args.since, until=args.until, max_errors=args.max_errors,
                                   allow_empty=args.allow_empty, replace_source=args.replace_source)
        source, note = open_run(engine, settings, args.source, args.full, bool(args.since or args.until),
                                connection)
        if results is not None and isinstance(getattr(source, "root", None), Path):  # never into a source folder
            results.check([(source.root, "the source")])
        reporter.line(f"Source: {source.label}")
        if note:
            reporter.always(note)
        outcome.result = RunResult(target=target.label, source=source_identity(source))
        try:
            pipeline.run(connection, engine, source, request, reporter, result=outcome.result)
        except CheckFailed as failure:
            reporter.always(one_line(failure.result) if args.quiet else summary(failure.result))
            raise
        result = outcome.result
        reporter.always(one_line(result) if args.quiet else summary(result))
        if args.quiet:  # stdout stays one line for scripts; what must not pass silently goes to stderr
            for line in result.warnings:
                print(line, file=sys.stderr)
    finally:
        locks.close()
        if hasattr(source, "close"):
            source.close()
        if connection is not None:
            connection.close()


# ---------------------------------------------------------------------------
# create_tables.py
# ---------------------------------------------------------------------------

CREATE_TABLES = Wording("create_tables.py", "nothing was changed, the tables are as they were",
                        "Nothing was changed: the tables are as they were.")


@command(CREATE_TABLES)
def create_tables(args) -> int:
    """create_tables.py: print the statements (--dry-run), or create the tables on the target, dropping
    tables that hold rows only with --drop-data or a "y" on a terminal (sparkify/run/recreate.py)."""
    import sql_queries as q
    from sparkify import api
    from sparkify.config import load_settings
    from sparkify.engines import detect_engine, engine_named
    from sparkify.engines.connect import choose_target, connect
    from sparkify.output.report import Reporter
    from sparkify.run import recreate
    from sparkify.sqltext import as_script

    if args.dry_run:
        engine = args.engine or "redshift"
        print(f"-- create_tables.py --dry-run: the statements for {engine}, in order, in one transaction")
        print(as_script(["BEGIN", *api.table_statements(engine), "COMMIT"]), end="")
        return OK
    connection = None
    locks = contextlib.ExitStack()
    try:
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        print(f"Target: {target.label}", flush=True)
        connection = connect(target, application="sparkify-create_tables")
        engine = engine_named(args.engine or detect_engine(connection), settings)
        engine.check_connection(connection)
        reporter = Reporter(quiet=args.quiet)
        locks.enter_context(watching_locks(engine, connection, target, lock_policy(settings, args.lock_timeout),
                                           reporter.always, args.quiet))
        rows = api.rows_held(connection, engine, reporter)
        if any(rows.values()) and not args.drop_data:
            if not interactive():
                raise Refused(recreate.refusal(rows))
            if not ask(rows, recreate.sources_of(connection, engine, rows)):
                print("Nothing was changed: the tables keep their rows (--drop-data drops them without asking).")
                return OK
        dropped = api.create_tables(connection, engine, drop_data=args.drop_data, agreed=rows, reporter=reporter)
        if not args.quiet:
            gone = f", and dropped the {recreate.held(dropped)} they held" if any(dropped.values()) else ""
            print(f"Created ({engine.name}): {', '.join(q.all_tables)}{gone}.")
        return OK
    finally:
        locks.close()
        if connection is not None:
            connection.close()


def ask(rows: dict[str, int], sources: list[str]) -> bool:
    """On a terminal: whether the person agrees to drop every table's rows."""
    from sparkify.run.recreate import held

    loaded = f", loaded from {' and '.join(printable(source) for source in sources)}" if sources else ""
    print(f"The tables hold {held(rows)}{loaded}. Drop them all, with their rows, and create them empty? [y/N] ",
          end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: no answer
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def interactive() -> bool:
    """Whether a person can answer: standard input is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


# ---------------------------------------------------------------------------
# query.py
# ---------------------------------------------------------------------------


@command(Wording("query.py", "nothing was changed"))
def query(args) -> int:
    """query.py: the statements' results, psql, or the embedded server kept up (--serve); read-only unless
    --write."""
    from sparkify.config import load_settings
    from sparkify.engines import detect_engine, engine_named
    from sparkify.engines.connect import choose_target, connect, reading_target
    from sparkify.output import query as tool
    from sparkify.output.report import Reporter
    from sparkify.output.streams import Output

    connection = None
    locks = contextlib.ExitStack()
    try:
        settings = load_settings(args.config)
        target = choose_target(settings, args.dsn, args.pgdata)
        if not args.write:
            target = reading_target(target)
        out = Output()
        if args.serve:
            return tool.serve(target, out, args.write)
        print(f"Target: {target.label}, {'read-write (--write)' if args.write else 'read-only'}",
              file=sys.stderr, flush=True)  # stdout is the result's
        if args.sql is None and (target.local or args.write):
            return tool.interactive(target, args.write)
        connection = connect(target, application="sparkify-query")
        engine = engine_named(args.engine or detect_engine(connection), settings)
        engine.check_connection(connection)
        if args.sql is None:
            if engine.name == "redshift":
                raise TargetError(
                    "psql on Redshift cannot be held read-only (Redshift has no default_transaction_read_only): "
                    "give the SQL to run it read-only (query.py \"SELECT ...\"), or add --write for a psql "
                    "session that may change the warehouse")
            connection.close()
            connection = None
            return tool.interactive(target, args.write)
        reporter = Reporter(stream=sys.stderr)
        locks.enter_context(watching_locks(engine, connection, target, lock_policy(settings, args.lock_timeout),
                                           reporter.always))
        tool.run(connection, engine, args.sql, out, sys.stderr, write=args.write, csv=args.csv, reporter=reporter)
        return OK
    finally:
        locks.close()
        if connection is not None:
            connection.close()


# ---------------------------------------------------------------------------
# doctor.py
# ---------------------------------------------------------------------------


@command(Wording("doctor.py"))
def doctor(args) -> int:
    """doctor.py: one line per check on standard output; what failed, if anything, in one line at the end."""
    from sparkify.checks.doctor import diagnose, python_command

    print("Checking the target and the source before a load:", flush=True)
    findings = diagnose(args.dsn, args.config, args.pgdata, args.engine, args.source)
    for finding in findings:
        print(finding, flush=True)
    failed = [finding for finding in findings if finding.status == "FAIL"]
    if failed:
        verdict = (f"{len(failed)} of {len(findings)} checks failed (the first: {failed[0].text}): fix them and run "
                   f"{python_command()} doctor.py again")
        raise TargetError(verdict) if any(finding.setup for finding in failed) else Failed(verdict)
    print(f"No problem found in {len(findings)} checks: {python_command()} etl.py can run.")
    return OK


# ---------------------------------------------------------------------------
# cluster.py
# ---------------------------------------------------------------------------


@command(Wording("cluster.py", "`python cluster.py status` shows what exists; `delete` removes it"))
def cluster(args) -> int:
    """cluster.py: create, status, pause, resume or delete the warehouse on AWS."""
    from sparkify.aws import cluster as aws
    from sparkify.config import load_settings

    deployment = aws.deployment_for(load_settings(args.config))
    if args.command == "create":
        deployment.create()
    elif args.command == "status":
        print(deployment.format_status(deployment.status()))
    elif args.command == "pause":
        deployment.pause()
    elif args.command == "resume":
        deployment.resume()
    elif args.command == "delete":
        role = deployment.provisioning.role_name
        if not args.yes and not interactive():  # nobody to ask: a refusal, as create_tables.py's
            raise Refused(f"refused: deleting {deployment.holdings}, its security group and role {role} needs a y "
                          "on a terminal, or --yes; nothing was deleted")
        if not args.yes and not aws.confirm(f"Delete {deployment.holdings}, its security group and role {role}?"):
            raise Failed("nothing deleted: answer y, or add --yes")
        deployment.teardown()
    return OK
