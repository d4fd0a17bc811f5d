"""Query the warehouse etl.py loads: a table, CSV, psql, or the server kept up: python query.py --help.

This file is the command line; the work is sparkify/output/query.py, the
command sparkify.cli.query().
"""

import argparse
import re
import sys

from sparkify import cli, sqlsplit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="query.py",
        description="Query the warehouse etl.py loads: an aligned table, CSV, an interactive psql, "
        "or the embedded server kept up for other clients. What it may change: nothing, unless --write: the "
        "SQL, the psql session and the DSN of --serve are read-only without it.",
        epilog='examples: query.py "SELECT COUNT(*) FROM songplay_table";  '
        'query.py --csv "SELECT * FROM user_table" > users.csv;  query.py (psql);  query.py --serve;  '
        'query.py --write "UPDATE ...".  What it may remove: nothing without --write; with it, what the SQL '
        "you give it deletes or drops, and nothing else. " + cli.EXIT_STATUSES,
    )
    parser.add_argument("sql", nargs="?", help="the SQL to run, one statement or several separated by ';', each "
                        "result shown in turn ('-' reads it from standard input); without it, an interactive psql "
                        "session opens")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--csv", action="store_true",
                      help="print PostgreSQL's CSV (a header line, then the rows; NULL an empty field, '' a quoted "
                      "one) of the one statement that returns rows")
    mode.add_argument("--serve", action="store_true",
                      help="keep the embedded PostgreSQL up and print its DSN, until Ctrl-C")
    parser.add_argument("--write", action="store_true",
                        help="let the SQL, the psql session or the DSN of --serve change the warehouse (insert, "
                        "update, delete, create, drop); the statements commit together once all have run. Without "
                        "it, the server holds every transaction read-only (psql on Redshift, which cannot be held "
                        "so, needs --write)")
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
        args.sql = read_stdin(parser)
    if args.sql is not None:
        check_sql(parser, args.sql)
    return args


def read_stdin(parser) -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        parser.error(f"the SQL on standard input is not valid UTF-8 (byte 0x{data[error.start]:02x} at byte "
                     f"{error.start + 1})")


def check_sql(parser, sql: str) -> None:
    """SQL that no server takes is refused here, in one line: not UTF-8, holding a NUL, or without a statement."""
    undecodable = re.search("[\udc80-\udcff]", sql)  # a byte of the command line that is not UTF-8
    if undecodable:
        parser.error(f"the SQL is not valid UTF-8 (byte 0x{ord(undecodable.group()) - 0xdc00:02x} at character "
                     f"{undecodable.start() + 1})")
    if "\x00" in sql:
        parser.error(f"the SQL holds a NUL character (at character {sql.index(chr(0)) + 1}), which SQL text "
                     "cannot hold")
    if not sqlsplit.cut(sql):
        parser.error("the SQL is empty: it holds no statement")


def main(argv=None) -> int:
    return cli.query(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
