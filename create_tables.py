"""Create the staging tables and the star schema; drop and create them again only when they hold nothing,
or when told to.

    python create_tables.py                 # the embedded PostgreSQL
    python create_tables.py --drop-data     # also when the tables hold rows: every loaded row is lost
    python create_tables.py --dry-run --engine redshift

The statements come from sql_queries.py in Redshift's dialect, rendered for
the target's engine (sparkify/engines/). They run in one transaction, after
the engine's lock (the one every etl.py run takes): if one fails, the tables
are as they were, and a load in progress is never dropped halfway.

Tables that hold rows are dropped only with --drop-data, or after a "y" to
the question asked on a terminal; without a terminal the command is refused
(exit status 2) and nothing changes (docs/daily-loads.md#what-each-command-may-remove).
This file is the command line; the work is sparkify.api.create_tables(), the
command sparkify.cli.create_tables().
"""

import argparse
import sys

from sparkify import cli

WHAT_IT_REMOVES = (
    "Tables that do not exist are created, and tables that exist but hold no row are dropped and created "
    "again. Tables that hold rows are dropped only with --drop-data, or after a \"y\" to the question asked "
    "on a terminal; without a terminal the command is refused (exit status 2) and nothing changes. It "
    "waits for a running etl.py load to finish first."
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="create_tables.py",
        description="Create the Sparkify staging tables, star schema and ledger, in one transaction.",
        epilog=f"What it may remove: {WHAT_IT_REMOVES} {cli.EXIT_STATUSES}",
    )
    cli.add_target_arguments(parser)
    parser.add_argument(
        "--drop-data",
        action="store_true",
        help="drop and create the tables even when they hold rows, without asking: every loaded row is lost",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the statements for --engine (default redshift) instead of running them; "
        "does not connect",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target, questions and errors")
    cli.add_lock_timeout_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return cli.create_tables(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
