"""Query the warehouse etl.py loads: a table, CSV, psql, or the server kept up: python query.py --help.

This file is the command line; the work is sparkify/output/query.py, the
command sparkify.cli.query().
"""

import argparse
import sys

from sparkify import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="query.py",
        description="Query the warehouse etl.py loads: an aligned table, CSV, an interactive psql, "
        "or the embedded server kept up for other clients.",
        epilog='examples: query.py "SELECT COUNT(*) FROM songplay_table";  '
        'query.py --csv "SELECT * FROM user_table" > users.csv;  query.py (psql);  query.py --serve.  '
        "What it may remove: what the SQL you give it deletes or drops, and nothing else. " + cli.EXIT_STATUSES,
    )
    parser.add_argument("sql", nargs="?", help="the statement to run ('-' reads it from standard input); "
                        "without it, an interactive psql session opens")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--csv", action="store_true", help="print CSV (a header line, then the rows)")
    mode.add_argument("--serve", action="store_true",
                      help="keep the embedded PostgreSQL up and print its DSN, until Ctrl-C")
    cli.add_target_arguments(parser)
    cli.add_lock_timeout_argument(parser)
    args = parser.parse_args(argv)
    if args.serve and args.sql is not None:
        parser.error("--serve takes no SQL")
    if args.lock_timeout is not None and (args.serve or args.sql is None):
        parser.error("--lock-timeout applies to the statement query.py runs: not to --serve or psql, whose "
                     "sessions are the clients' own")
    if args.csv and args.sql is None:
        parser.error("--csv needs the SQL to run")
    if args.sql == "-":
        args.sql = sys.stdin.read()
    if args.sql is not None and not args.sql.strip():
        parser.error("the SQL is empty")
    return args


def main(argv=None) -> int:
    return cli.query(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
