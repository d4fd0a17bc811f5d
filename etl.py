"""Load the source into the staging tables, then build the star schema: the command line.

    python etl.py                      # the bundled sample into the embedded PostgreSQL
    python etl.py --source DIR         # another local source folder
    python etl.py --source s3://udacity-dend     # read S3 into the local PostgreSQL
    python etl.py --dsn postgresql://... --max-errors 10
    python etl.py --dry-run --engine redshift    # print the statements; connect to nothing

The whole run is one transaction (sparkify/run/pipeline.py), committed only
when every reconciliation check passes: a failed or interrupted run leaves the
previous warehouse as it was (docs/data-contract.md#accounting-checks). This
file is the command line; the run is sparkify.api.run(), the command
sparkify.cli.etl().
"""

import argparse
import sys
from datetime import date

from sparkify import cli


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
        "line naming the flag that does it, and commits nothing. The rule: docs/daily-loads.md, What each "
        "command may remove. " + cli.EXIT_STATUSES,
    )
    cli.add_target_arguments(parser)
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
        help="load the good records and keep up to N rejected ones per table in rejected_records; one more "
        "fails the load (default 0: the first rejected record fails it). On Redshift COPY runs with MAXERROR "
        "N+1, as COPY fails at MAXERROR errors; N is at most 99,999",
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
        "as SQL a client can run; connects to nothing. A setting the config does not give (the [S3] paths, "
        "[IAM_ROLE] ARN) is shown as a placeholder, '<[IAM_ROLE] ARN>', and named on standard error",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that parse a large local source (32 MB or more) for a PostgreSQL target "
        "(default: one per core, up to four; 0: all in this process)",
    )
    parser.add_argument("--quiet", action="store_true",
                        help="print only the target, one summary line (with --check: the verdict, naming any check "
                        "that failed), warnings and errors")
    cli.add_lock_timeout_argument(parser)
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the run's result as JSON to FILE (- for standard output, the summary then goes to "
        "standard error): run id, start and end (UTC), target, source, mode, files, steps, checks, the first "
        "rejected records and their count, exit status (docs/run-results.md). FILE is checked before the "
        "run (exit status 2): never inside the source, the data folder or the bundled sample, never the "
        "config, never a file that is not an earlier result; it is replaced in one step at the end",
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    if args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    return args  # combinations that would remove what they do not name are refused by cli.etl, with --json


def main(argv=None) -> int:
    return cli.etl(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
