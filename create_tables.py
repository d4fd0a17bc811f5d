"""Drop and create the staging tables and the star schema.

    python create_tables.py                 # the embedded PostgreSQL
    python create_tables.py --dry-run --engine redshift

The statements come from sql_queries.py in Redshift's dialect, rendered for
the target's engine (sparkify/engines/). They run in one transaction: if one
fails, the tables are as they were. This file is the command line; the work
is sparkify.api.create_tables(), the command sparkify.cli.create_tables().
"""

import argparse
import sys

from sparkify import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="create_tables.py",
        description="Drop and create the Sparkify staging tables and star schema "
        "(all existing data in them is lost).",
        epilog=cli.EXIT_STATUSES,
    )
    cli.add_target_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the statements for --engine (default redshift) instead of running them; "
        "does not connect",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target and errors")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return cli.create_tables(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
