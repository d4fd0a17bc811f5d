"""Load the source into the staging tables, then build the star schema.

    python etl.py                      # the bundled sample into the embedded PostgreSQL
    python etl.py --source DIR         # another local source folder
    python etl.py --dsn postgresql://... --max-errors 10

The whole run is one transaction: staging, the transform, the checks. It is
committed only when every reconciliation check passes, so a failed or
interrupted run leaves the previous warehouse as it was (SPEC.md section 4).
"""

import argparse
import sys
import time
from pathlib import Path

import psycopg2

import sql_queries as q
from connection import TargetError, add_target_arguments, choose_target, connect, detect_engine
from report import Reporter, table
from sql_dialect import quote_literal, render
from staging_loader import LoadError, TableLoad, save_rejected, stage_source

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCE = PROJECT_DIR / "data" / "sample"
LOCK_KEY = 0x5350_4B59  # "SPKY": one etl.py at a time per database


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------------------
# The steps, each an importable function
# ---------------------------------------------------------------------------


def lock_warehouse(cursor, reporter) -> None:
    """Wait for any other etl.py run on this database to finish (PostgreSQL)."""
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
    if not cursor.fetchone()[0]:
        reporter.always("Another etl.py run is loading this database: waiting for it to finish...")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))


def stage_local(cursor, source, max_errors, reporter) -> list[TableLoad]:
    """Stage a local folder with the project's loader (PostgreSQL targets)."""
    for statement in q.clear_staging_queries:
        cursor.execute(statement)
    progress = reporter.progress("staging")
    try:
        loads = stage_source(cursor, source, max_errors=max_errors, progress=progress)
    finally:
        progress.close()
    rejected = [record for load in loads for record in load.rejected]
    if rejected:
        save_rejected(cursor, rejected)
    for load in loads:
        cursor.execute(f"ANALYZE {load.table}")
    return loads


def redshift_copy_statements(config, max_errors: int) -> list[str]:
    """The two COPY statements for a Redshift target, values quoted as literals."""
    def value(section, key):
        if not config.has_section(section) or not config[section].get(key, "").strip():
            raise TargetError(f"the config has no [{section}] {key}: set it (see dwh.cfg.example)")
        return quote_literal(config[section][key].strip())

    values = {
        "log_data": value("S3", "LOG_DATA"),
        "log_jsonpath": value("S3", "LOG_JSONPATH"),
        "song_data": value("S3", "SONG_DATA"),
        "region": value("S3", "REGION"),
        "iam_role": value("IAM_ROLE", "ARN"),
        "max_errors": int(max_errors),
    }
    return [statement.format(**values) for statement in q.copy_table_queries]


def stage_redshift(cursor, config, max_errors, reporter) -> list[TableLoad]:
    """Stage with COPY from S3: Redshift reads the files itself."""
    loads = []
    for statement in q.clear_staging_queries[:2]:
        cursor.execute(statement)
    for table_name, statement in zip(q.staging_tables, redshift_copy_statements(config, max_errors)):
        started = time.perf_counter()
        reporter.line(f"COPY {table_name} from S3...")
        cursor.execute(statement)
        cursor.execute(f"SELECT COUNT(*) FROM {table_name}")
        loads.append(TableLoad(table=table_name, rows=cursor.fetchone()[0],
                               seconds=time.perf_counter() - started))
    return loads


def transform(cursor, engine) -> list[tuple[str, int, float]]:
    """Rebuild the star schema from staging: (table, rows, seconds) per table."""
    for statement in q.clear_star_queries:
        cursor.execute(render(statement, engine))
    steps = []
    for table_name, statement in q.insert_table_queries.items():
        started = time.perf_counter()
        cursor.execute(render(statement, engine))
        steps.append((table_name, cursor.rowcount, time.perf_counter() - started))
    return steps


def run_checks(cursor) -> list[tuple[str, int, int]]:
    """The reconciliation checks: (name, expected, actual) each."""
    results = []
    for name, statement in q.check_queries.items():
        cursor.execute(statement)
        expected, actual = cursor.fetchone()
        results.append((name, expected, actual))
    return results


def figure(cursor, statement) -> int:
    cursor.execute(statement)
    return cursor.fetchone()[0]


def run(connection, engine, source, max_errors=0, reporter=None, config=None) -> dict:
    """The whole ETL in one transaction. Returns what happened; raises on failure.

    The transaction is committed only if every check passes; otherwise it is
    rolled back and CheckFailed is raised, leaving the previous warehouse.
    """
    reporter = reporter or Reporter(quiet=True)
    started = time.perf_counter()
    result = {"engine": engine, "source": str(source)}
    try:
        with connection.cursor() as cursor:
            if engine == "postgres":
                lock_warehouse(cursor, reporter)
                loads = stage_local(cursor, source, max_errors, reporter)
            else:
                loads = stage_redshift(cursor, config, max_errors, reporter)
            result["loads"] = loads
            reporter.line("building the star schema...")
            result["transform"] = transform(cursor, engine)
            result["checks"] = run_checks(cursor)
            result["matched_plays"] = figure(cursor, q.count_matched_plays)
            result["duplicate_events"] = figure(cursor, q.count_duplicate_events)
            result["seconds"] = time.perf_counter() - started
            failed = [check for check in result["checks"] if check[1] != check[2]]
            if failed:
                connection.rollback()
                result["committed"] = False
                raise CheckFailed(result)
        connection.commit()
        result["committed"] = True
        return result
    except BaseException:
        connection.rollback()
        raise


# ---------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------


def summary(result) -> str:
    lines = []
    rows = []
    for load in result.get("loads", []):
        rows.append((load.table, load.files or None, load.rows, len(load.rejected), load.seconds))
    for table_name, count, seconds in result.get("transform", []):
        rows.append((table_name, None, count, None, seconds))
    lines.append(table(rows, ["step", "files", "rows", "rejected", "seconds"], ["<", ">", ">", ">", ">"]))
    lines.append("")
    rejected = [record for load in result.get("loads", []) for record in load.rejected]
    plays = next((count for name, count, _ in result.get("transform", []) if name == "songplay_table"), 0)
    lines.append(
        f"plays matched to the catalogue: {result.get('matched_plays', 0):,} of {plays:,}; "
        f"duplicate events staged and counted once: {result.get('duplicate_events', 0):,}; "
        f"rejected records: {len(rejected):,}"
    )
    for record in rejected[:20]:
        lines.append(f"  rejected {record.table_name} {record.describe()}")
    if len(rejected) > 20:
        lines.append(f"  ... and {len(rejected) - 20:,} more: SELECT * FROM rejected_records")
    lines.append("")
    checks = result.get("checks", [])
    lines.append(table(
        [("PASS" if expected == actual else "FAIL", name, expected, actual) for name, expected, actual in checks],
        ["check", "guarantee", "expected", "actual"],
        ["<", "<", ">", ">"],
    ))
    failed = sum(1 for _, expected, actual in checks if expected != actual)
    lines.append("")
    if failed:
        lines.append(f"{failed} of {len(checks)} checks FAILED: rolled back, the previous warehouse is unchanged.")
    else:
        lines.append(f"All {len(checks)} checks passed; committed in {result.get('seconds', 0):.1f} s.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="etl.py",
        description="Stage the Sparkify source data and build the star schema, in one transaction, "
        "then check that every record is accounted for.",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--source",
        metavar="DIR",
        help="local source folder holding song_data/, log_data/ and log_json_path.json "
        "(default for a PostgreSQL target: the bundled sample in data/sample; "
        "a Redshift target COPYs from the S3 paths of the config)",
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
        "--engine",
        choices=["redshift", "postgres"],
        help="the SQL dialect of the target (default: asked of the server with version())",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target, the summary and errors")
    args = parser.parse_args(argv)
    if args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    reporter = Reporter(quiet=args.quiet)
    connection = None
    try:
        target = choose_target(args.dsn, args.config, args.pgdata)
        reporter.always(f"Target: {target.label}")
        connection = connect(target)
        engine = args.engine or detect_engine(connection)
        if engine == "redshift" and args.source:
            raise TargetError(
                "a Redshift target stages with COPY from S3: set the S3 paths in the config, not --source"
            )
        source = Path(args.source) if args.source else DEFAULT_SOURCE
        reporter.line(f"Source: {source if engine == 'postgres' else 'S3, as the config says'}")
        result = run(connection, engine, source, args.max_errors, reporter, target.config)
        reporter.always(summary(result))
        return 0
    except CheckFailed as failure:
        reporter.always(summary(failure.args[0]))
        return 1
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was committed: the previous warehouse is unchanged.", file=sys.stderr)
        return 1
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        message = str(error).strip() or type(error).__name__
        print(f"error: the database said: {message}", file=sys.stderr)
        print("Nothing was committed: the previous warehouse is unchanged.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was committed, the previous warehouse is unchanged.", file=sys.stderr)
        return 130
    finally:
        if connection is not None:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
