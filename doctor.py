"""Check the target and the source before a load, one line per check: python doctor.py --help.

This file is the command line; the checks are sparkify/checks/doctor.py, the
command sparkify.cli.doctor().
"""

import argparse
import sys

from sparkify import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="doctor.py",
        description="Check the target and the source before a load: one line per check, saying what to fix.",
        epilog="What it may remove: nothing; it only reads. " + cli.EXIT_STATUSES,
    )
    cli.add_target_arguments(parser)
    parser.add_argument("--source", metavar="DIR|S3",
                        help="the source etl.py will read (default: as etl.py: the source the warehouse holds; "
                        "for a warehouse that holds nothing, the bundled sample for PostgreSQL, the [S3] paths "
                        "of the config for Redshift)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return cli.doctor(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
