"""Load the source into the staging tables, then build the star schema.

    python etl.py                      # the bundled sample into the embedded PostgreSQL
    python etl.py --source DIR         # another local source folder
    python etl.py --source s3://udacity-dend     # read S3 into the local PostgreSQL
    python etl.py --dsn postgresql://... --max-errors 10
    python etl.py --dry-run --engine redshift    # print the statements; connect to nothing

The whole run is one transaction: staging, the transform, the checks. It is
committed only when every reconciliation check passes, so a failed or
interrupted run leaves the previous warehouse as it was (SPEC.md section 4).

On PostgreSQL the project's loader stages the source (a folder or an S3
prefix); on Redshift, COPY reads S3 itself, and each statement is logged with
its duration.
"""

import argparse
import contextlib
import sys
import time
from datetime import date
from pathlib import Path

import psycopg2

import sql_queries as q
from sparkify.checks.reconciliation import before_change, change_checks, run_checks
from sparkify.engines import redshift_load_errors as redshift_errors
from sparkify.engines.connect import (
    StatementLog,
    TargetError,
    add_target_arguments,
    cancel_on_interrupt,
    choose_target,
    connect,
    detect_engine,
    read_config,
    require_tls,
)
from sparkify.engines.dialect import as_script, quote_literal, render
from sparkify.engines.local_loader.staging import LoadError, TableLoad, default_workers, save_rejected, stage_source
from sparkify.output.report import Reporter, table
from sparkify.run import ledger as incremental
from sparkify.sources import SourceError, is_s3, open_source

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCE = PROJECT_DIR / "data" / "sample"
LOCK_KEY = 0x5350_4B59  # "SPKY": one etl.py at a time per database
MAX_REDSHIFT_ERRORS = 100_000  # the largest MAXERROR that COPY accepts
COPY_RESULT = "SELECT pg_last_copy_id(), pg_last_copy_count()"


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


def stage_local(cursor, source, max_errors, reporter, choice=None, workers=None) -> list[TableLoad]:
    """Stage a local folder with the project's loader (PostgreSQL targets).

    A full load empties staging first. An incremental run (``choice`` not
    full) stages only its new files, into temporary tables, which
    incremental.update_star() then appends to staging.
    """
    only_new = choice is not None and not choice.full
    for statement in incremental.work_tables_create() if only_new else q.clear_staging_queries:
        cursor.execute(statement)
    if not only_new:
        cursor.execute(q.staging_events_sortkey_drop)
    into = incremental.WORK_TABLES if only_new else {}
    progress = reporter.progress("staging")
    try:
        loads = stage_source(
            cursor, source, max_errors=max_errors, progress=progress,
            files=choice.files if choice else None, into=into, workers=workers,
        )
    finally:
        progress.close()
    rejected = [record for load in loads for record in load.rejected]
    if rejected:
        save_rejected(cursor, rejected)
    for load in loads:
        cursor.execute(q.work_tables_analyze[into[load.table]] if only_new else f"ANALYZE {load.table}")
    if not only_new:
        cursor.execute(q.staging_events_sortkey_create)
    return loads


def s3_setting(config, key):
    """[S3] ``key`` of the config, or None when it is not set."""
    if config is None or not config.has_section("S3"):
        return None
    return config["S3"].get(key, "").strip() or None


def copy_locations(config, source=None) -> dict[str, str]:
    """Where Redshift's COPY reads: below ``--source s3://...``, else the [S3] paths of the config."""
    if source:
        if not is_s3(str(source)):
            raise TargetError(
                f"{source} is not in S3: a Redshift target reads the source with COPY from S3; "
                "give --source s3://bucket/prefix, or set the [S3] paths of the config"
            )
        root = str(source).rstrip("/")
        return {
            "log_data": f"{root}/log_data/",
            "song_data": f"{root}/song_data/",
            "log_jsonpath": f"{root}/log_json_path.json",
        }
    locations = {}
    for name, key in (("log_data", "LOG_DATA"), ("song_data", "SONG_DATA"), ("log_jsonpath", "LOG_JSONPATH")):
        locations[name] = s3_setting(config, key)
        if locations[name] is None:
            raise TargetError(f"the config has no [S3] {key}: set it (see dwh.cfg.example), or give --source s3://...")
    return locations


def copy_values(config, max_errors: int, source=None) -> dict:
    """The values the COPY statements hold, each a quoted literal (sql_dialect.quote_literal),
    so a quote or a semicolon in the config or the command line cannot change a statement."""
    if not 0 <= int(max_errors) <= MAX_REDSHIFT_ERRORS:
        raise TargetError(f"--max-errors must be between 0 and {MAX_REDSHIFT_ERRORS:,} on Redshift (COPY's MAXERROR)")
    values = {name: quote_literal(value) for name, value in copy_locations(config, source).items()}
    for name, section, key in (("region", "S3", "REGION"), ("iam_role", "IAM_ROLE", "ARN")):
        value = config[section].get(key, "").strip() if config is not None and config.has_section(section) else ""
        if not value:
            raise TargetError(f"the config has no [{section}] {key}: set it (see dwh.cfg.example)")
        values[name] = quote_literal(value)
    values["max_errors"] = int(max_errors)
    return values


def redshift_copy_statements(config, max_errors: int, source=None) -> list[str]:
    """The two COPY statements for a Redshift target (copy_values() quotes every value)."""
    values = copy_values(config, max_errors, source)
    return [statement.format(**values) for statement in q.copy_table_queries]


def manifest_copies(config, max_errors, choice, manifests, source=None) -> list[tuple[str, str, str]]:
    """(staging table, COPY statement, manifest URL) for each table with files to stage.

    An incremental run (``choice`` not full) copies into the temporary tables.
    """
    values = copy_values(config, max_errors, source)
    formats = {"staging_events": values["log_jsonpath"], "staging_songs": "'auto'"}
    copies = []
    for table_name, url in manifests.items():
        into = incremental.WORK_TABLES[table_name] if not choice.full else table_name
        statement = q.staging_copy_manifest.format(
            table=into, manifest=quote_literal(url), format=formats[table_name], **values,
        )
        copies.append((table_name, statement, url))
    return copies


def stage_redshift(cursor, config, max_errors, reporter, source=None) -> list[TableLoad]:
    """Stage with COPY from S3: Redshift reads the files itself.

    A COPY that loads no row is an error: the prefix is wrong, or its files
    hold nothing.
    """
    for statement in q.clear_staging_queries:
        cursor.execute(statement)
    locations = copy_locations(config, source)
    statements = redshift_copy_statements(config, max_errors, source)
    prefixes = [locations["log_data"], locations["song_data"]]
    return run_copies(cursor, list(zip(q.staging_tables, statements, prefixes)), max_errors)


def stage_redshift_files(cursor, config, max_errors, s3_source, choice, source=None) -> list[TableLoad]:
    """Stage exactly the chosen files, with one COPY per table from a manifest that lists them.

    A full reload empties staging first; an incremental run copies into
    temporary tables, which incremental.update_star() appends to staging.
    """
    only_new = not choice.full
    for statement in incremental.work_tables_create() if only_new else q.clear_staging_queries:
        cursor.execute(statement)
    manifests = incremental.write_manifests(s3_source, manifest_prefix(config), choice)
    copies = manifest_copies(config, max_errors, choice, manifests, source)
    loads = run_copies(cursor, copies, max_errors, empty_is_error=False)
    for load in loads:
        load.files = len(choice.files[incremental.PREFIX_OF[load.table]])
    return loads


def manifest_prefix(config) -> str:
    prefix = s3_setting(config, "MANIFEST_PREFIX")
    if prefix is None or not is_s3(prefix):
        raise TargetError(
            "the config has no [S3] MANIFEST_PREFIX: an incremental run on Redshift writes the list of "
            "new files there for COPY (an s3:// prefix you can write and the cluster's role can read); "
            "set it, or run etl.py --full"
        )
    return prefix


def run_copies(cursor, copies, max_errors, empty_is_error=True) -> list[TableLoad]:
    """Run each (table, COPY, where) and say what it loaded.

    After each COPY, Redshift says how many rows it loaded and (with
    --max-errors) which records it skipped; those are kept in rejected_records.
    """
    loads = []
    last_copy = -1  # pg_last_copy_id() before any COPY of this session
    for table_name, statement, where in copies:
        started = time.perf_counter()
        try:
            cursor.execute(statement)
        except psycopg2.Error as error:
            raise redshift_errors.copy_failed(cursor, table_name, error, last_copy, max_errors) from None
        cursor.execute(COPY_RESULT)
        last_copy, rows = cursor.fetchone()
        skipped = redshift_errors.load_errors(cursor, table_name) if max_errors else []
        if rows == 0 and empty_is_error:
            raise LoadError(
                f"{table_name}: COPY loaded no rows from {where}: no record there, "
                "check the path in the config (or --source) and that its files are not empty",
                skipped,
            )
        loads.append(TableLoad(table=table_name, rows=rows, rejected=skipped, seconds=time.perf_counter() - started))
    rejected = [record for load in loads for record in load.rejected]
    if rejected:
        cursor.execute(redshift_errors.insert_rejected(rejected))
    return loads


def clear_star_statements(engine) -> list[str]:
    """What empties the star schema inside the run's transaction.

    Redshift: DELETE, as its TRUNCATE commits by itself. PostgreSQL: one
    TRUNCATE of the five tables, which is transactional there. A DELETE would
    check every time, user, song and artist row against songplay_table, whose
    foreign-key columns have no index: quadratic, hours at a million plays.
    """
    if engine == "postgres":
        return [f"TRUNCATE {', '.join(q.star_tables)}"]
    return [render(statement, engine) for statement in q.clear_star_queries]


# PostgreSQL only, for this transaction. The planner estimates the
# deduplicated events and the catalogue matches at a few rows, and a nested
# loop over a million of them runs for hours: hash and merge joins only. The
# sorts of a million rows fit in memory instead of spilling to disk. A daily
# run sets them too: with a nested loop, re-matching one day's plays against
# a month took 10 s instead of 0.1 s.
POSTGRES_TRANSFORM_SETTINGS = [
    "SET LOCAL enable_nestloop = off",
    "SET LOCAL work_mem = '256MB'",
]


def transform(cursor, engine) -> list[tuple[str, int, float]]:
    """Rebuild the star schema from staging: (table, rows, seconds) per table."""
    for statement in clear_star_statements(engine):
        cursor.execute(statement)
    foreign_keys = []
    if engine == "postgres":
        for statement in POSTGRES_TRANSFORM_SETTINGS:
            cursor.execute(statement)
        foreign_keys = suspend_foreign_keys(cursor, "songplay_table")
    steps = []
    for table_name, statement in q.insert_table_queries.items():
        started = time.perf_counter()
        cursor.execute(render(statement, engine))
        steps.append((table_name, cursor.rowcount, time.perf_counter() - started))
    if foreign_keys:
        started = time.perf_counter()
        restore_foreign_keys(cursor, "songplay_table", foreign_keys)
        steps.append((f"{len(foreign_keys)} foreign keys validated", None, time.perf_counter() - started))
    return steps


def suspend_foreign_keys(cursor, table_name) -> list[tuple[str, str]]:
    """Drop ``table_name``'s foreign keys for the bulk insert; return their definitions.

    PostgreSQL checks a foreign key row by row on INSERT (four index probes per
    play); added back afterwards, each is validated in one pass over the
    table. Both happen inside the run's transaction, so the keys are never
    missing for anyone else, and a violation fails the run.
    """
    cursor.execute(
        """
        SELECT conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid = to_regclass(%s) AND contype = 'f'
        ORDER BY conname
        """,
        (table_name,),
    )
    foreign_keys = cursor.fetchall()
    for name, _ in foreign_keys:
        cursor.execute(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"')
    return foreign_keys


def restore_foreign_keys(cursor, table_name, foreign_keys) -> None:
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}')


def figures(cursor, statement) -> tuple:
    cursor.execute(statement)
    return cursor.fetchone()


def figure(cursor, statement) -> int:
    return figures(cursor, statement)[0]


def run(connection, engine, source, max_errors=0, reporter=None, config=None,
        full=True, since=None, until=None, workers=None) -> dict:
    """The whole ETL in one transaction. Returns what happened; raises on failure.

    The transaction is committed only if every check passes; otherwise it is
    rolled back and CheckFailed is raised, leaving the previous warehouse.
    ``source`` is a folder, an S3 URL or a source object on PostgreSQL; on
    Redshift, an ``s3://`` root or None for the [S3] paths of ``config``.
    ``full=False`` stages only the files the ledger does not hold
    (incremental.py); ``since``/``until`` (dates) restrict the log files.
    ``workers``: the local loader's worker processes (staging_loader.py).
    """
    reporter = reporter or Reporter(quiet=True)
    started = time.perf_counter()
    label = getattr(source, "label", None) or (str(source) if source is not None else "the [S3] paths of the config")
    result = {"engine": engine, "source": label}
    try:
        with connection.cursor() as raw_cursor, cancel_on_interrupt(connection):
            cursor = StatementLog(raw_cursor, reporter.line) if engine == "redshift" else raw_cursor
            if engine == "postgres":
                lock_warehouse(cursor, reporter)
                source = listed = open_source(source)
            elif not full:
                listed = open_source(
                    incremental.redshift_root(copy_locations(config, source), source),
                    endpoint_url=s3_setting(config, "ENDPOINT_URL"), region=s3_setting(config, "REGION"),
                )
            elif since or until:
                raise TargetError("--since and --until choose the files of an incremental run on Redshift: "
                                  "--full copies the whole prefixes")
            choice = None
            if engine == "postgres" or not full:
                listing_started = time.perf_counter()
                choice = result["files"] = incremental.choose(
                    incremental.list_source(listed), incremental.read_ledger(cursor, full),
                    incremental.source_identity(listed), full, since, until,
                )
                result["listing_seconds"] = time.perf_counter() - listing_started
                if choice.nothing_new:
                    connection.rollback()
                    result.update(committed=False, seconds=time.perf_counter() - started)
                    return result
            if engine == "postgres":
                loads = stage_local(cursor, source, max_errors, reporter, choice, workers)
            elif choice is not None:
                loads = stage_redshift_files(cursor, config, max_errors, listed, choice, source)
            else:
                incremental.forget_ledger(cursor)
                loads = stage_redshift(cursor, config, max_errors, reporter, source)
            result["loads"] = loads
            daily = result["daily"] = choice is not None and not choice.full
            if daily:
                reporter.line("updating the star schema with the new files...")
                for statement in POSTGRES_TRANSFORM_SETTINGS if engine == "postgres" else []:
                    cursor.execute(statement)
                checks_started = time.perf_counter()
                before = before_change(cursor)
                checks_seconds = time.perf_counter() - checks_started
                result["transform"] = incremental.update_star(cursor, engine)
            else:
                reporter.line("building the star schema...")
                result["transform"] = transform(cursor, engine)
                checks_seconds = 0.0
            if choice is not None:
                for statement in incremental.ledger_statements(choice, loads):
                    cursor.execute(statement)
            checks_started = time.perf_counter()
            if daily:
                result["checks"] = change_checks(cursor, engine, before)
                result["plays"], result["matched_plays"] = figures(cursor, q.written_plays_count)
                new_plays = before["new_keys"][q.NEW_PLAYS_CHECK]
                result["duplicate_events"] = figure(cursor, q.new_nextsong_events_count) - new_plays
                for statement in incremental.work_tables_drop():
                    cursor.execute(statement)
            else:
                result["checks"] = run_checks(cursor, engine)
                plays = next(check for check in result["checks"] if check.name == q.PLAYS_CHECK)
                result["plays"], result["matched_plays"] = plays.actual, figure(cursor, q.count_matched_plays)
                result["duplicate_events"] = figure(cursor, q.count_nextsong_events) - plays.expected
            result["checks_seconds"] = checks_seconds + time.perf_counter() - checks_started
            result["seconds"] = time.perf_counter() - started
            failed = [check for check in result["checks"] if not check.passed]
            if failed:
                connection.rollback()
                result["committed"] = False
                raise CheckFailed(result)
        connection.commit()
        result["committed"] = True
        return result
    except BaseException:
        with contextlib.suppress(psycopg2.InterfaceError):  # a lost connection: the server rolled back
            connection.rollback()
        raise


def check_warehouse(connection, engine) -> dict:
    """The whole-warehouse checks on the warehouse as it is, in one snapshot; changes nothing."""
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            if engine == "postgres":  # Redshift's transactions are serializable already
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            checks = run_checks(cursor, engine)
    finally:
        connection.rollback()
    return {"engine": engine, "checks": checks, "seconds": time.perf_counter() - started}


def planned_statements(engine, config=None, max_errors=0, source=None, full=True) -> list[str]:
    """Every statement run() sends to ``engine``, in order, for --dry-run.

    A ``--`` line says what happens there that is not plain SQL (the local
    loader's rows, records known only at run time). On Redshift the list is
    exactly what run() executes (a test holds it to that), but for the
    ledger's rows in an incremental run (``full=False``).
    """
    plan = ["BEGIN"]
    if engine == "postgres":
        plan.append(f"SELECT pg_try_advisory_xact_lock({LOCK_KEY})")
    if engine == "postgres" or not full:
        plan += [q.loaded_files_exists, q.loaded_files_select]
    if not full:
        plan.append(
            "-- the source's files are listed and compared with the ledger; with nothing new the run stops "
            "here. When the ledger is empty, holds another source or a file changed, the run reloads "
            "everything instead: the statements of --full, staging the files listed"
        )
    staging = q.clear_staging_queries if full else incremental.work_tables_create()
    if engine == "postgres":
        plan += staging + ([q.staging_events_sortkey_drop] if full else [])
        plan.append(
            f"-- staging_events, staging_songs: the project's loader reads {source} "
            f"{'' if full else '(only the new files, into staging_events_new and staging_songs_new) '}"
            "and sends the rows with COPY ... FROM STDIN\n"
            "-- rejected records, if any (with --max-errors): COPY rejected_records FROM STDIN"
        )
        plan += [f"ANALYZE {table_name}" for table_name in q.staging_tables if full]
        plan += [] if full else list(q.work_tables_analyze.values())
        plan += [q.staging_events_sortkey_create] if full else []
    else:
        if full:
            plan += [q.loaded_files_exists, q.loaded_files_clear] + staging
            statements = redshift_copy_statements(config, max_errors, source)
        else:
            plan += staging
            plan.append(
                f"-- the new files of each table are listed in a manifest, written below {manifest_prefix(config)}"
            )
            folder = manifest_prefix(config).rstrip("/")
            manifests = {table: f"{folder}/<run time>-{table}.manifest" for table in q.staging_tables}
            choice = incremental.Choice(source="", full=False, reason="")
            statements = [copy for _, copy, _ in manifest_copies(config, max_errors, choice, manifests, source)]
        for statement in statements:
            plan += [statement, COPY_RESULT]
            if max_errors:
                plan.append(redshift_errors.load_errors_query())
        plan.append("-- the records COPY skipped, if any: INSERT INTO rejected_records ... VALUES ...")
    if full:
        plan += clear_star_statements(engine)
        if engine == "postgres":
            plan += POSTGRES_TRANSFORM_SETTINGS
            plan.append("-- songplay_table's foreign keys: dropped here, added back (validated) after the INSERTs")
        plan += [render(statement, engine) for statement in q.insert_table_queries.values()]
    else:
        plan += POSTGRES_TRANSFORM_SETTINGS if engine == "postgres" else []
        plan += [statement for _, statement in q.change_checks.values()] + [q.star_counts]
        plan += [render(statement, engine) for _, statement in q.incremental_star_queries]
    if engine == "postgres" or not full:
        plan.append(
            f"-- the ledger: {'DELETE FROM loaded_files, then ' if full else ''}"
            "INSERT INTO loaded_files ... VALUES, one row per file staged"
        )
    if not full:
        plan.append(q.star_counts)
    if engine == "postgres":
        plan.append(q.constraint_definitions)
        plan.append(
            "-- a key or relationship check whose constraint that query lists is not counted below: "
            "PostgreSQL enforces it"
        )
    if full:
        plan += list(q.check_queries.values()) + [q.count_matched_plays, q.count_nextsong_events]
    else:
        plan += list(q.key_checks.values()) + [q.written_plays_count, q.new_nextsong_events_count]
        plan += incremental.work_tables_drop()
    plan.append("COMMIT")
    return plan


# ---------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------


def summary(result) -> str:
    lines = []
    choice = result.get("files")
    if choice is not None:
        lines.append(choice.describe())
        if choice.nothing_new:
            return "\n".join(lines)
        lines.append("")
    rows = []
    if "listing_seconds" in result:
        listed = choice.new + choice.changed + choice.skipped + choice.outside if choice is not None else None
        rows.append(("listing", listed, None, None, result["listing_seconds"]))
    for load in result.get("loads", []):
        rows.append((load.table, load.files or None, load.rows, len(load.rejected), load.seconds))
    for table_name, count, seconds in result.get("transform", []):
        rows.append((table_name, None, count, None, seconds))
    if "checks_seconds" in result:
        rows.append(("checks", None, None, None, result["checks_seconds"]))
    lines.append(table(rows, ["step", "files", "rows", "rejected", "seconds"], ["<", ">", ">", ">", ">"]))
    lines.append("")
    rejected = [record for load in result.get("loads", []) for record in load.rejected]
    plays = result.get("plays", 0)
    matched = (
        f"plays this run wrote (added or replaced): {plays:,}, {result.get('matched_plays', 0):,} of them matched "
        "to the catalogue" if result.get("daily")
        else f"plays matched to the catalogue: {result.get('matched_plays', 0):,} of {plays:,}"
    )
    lines.append(
        f"{matched}; "
        f"duplicate events staged and counted once: {result.get('duplicate_events', 0):,}; "
        f"rejected records: {len(rejected):,}"
    )
    for record in rejected[:20]:
        lines.append(f"  rejected {record.table_name} {record.describe()}")
    if len(rejected) > 20:
        lines.append(f"  ... and {len(rejected) - 20:,} more: SELECT * FROM rejected_records")
    lines.append("")
    checks = result.get("checks", [])
    lines.append(checks_table(checks))
    failed = sum(1 for check in checks if not check.passed)
    lines.append("")
    if failed:
        lines.append(f"{failed} of {len(checks)} checks FAILED: rolled back, the previous warehouse is unchanged.")
    else:
        on_change = (
            f" ({len(q.change_checks)} of them on this run's change; etl.py --check checks the whole warehouse)"
            if result.get("daily") else ""
        )
        lines.append(f"All {len(checks)} checks passed{on_change}; committed in {result.get('seconds', 0):.1f} s.")
    return "\n".join(lines)


def check_summary(result) -> str:
    checks = result["checks"]
    failed = sum(1 for check in checks if not check.passed)
    verdict = (
        f"{failed} of {len(checks)} checks FAILED: the warehouse no longer matches its staging. "
        "etl.py --full rebuilds it from the source."
        if failed else f"All {len(checks)} checks passed on the whole warehouse, in {result['seconds']:.1f} s."
    )
    return "\n".join([checks_table(checks), "", verdict])


def checks_table(checks) -> str:
    return table(
        [("PASS" if check.passed else "FAIL", check.name, check.expected, check.actual, check.how) for check in checks],
        ["check", "guarantee", "expected", "actual", "how"],
        ["<", "<", ">", ">", "<"],
    )


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
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--source",
        metavar="DIR|S3",
        help="a folder or an S3 prefix (s3://bucket/prefix) holding song_data/, log_data/ and "
        "log_json_path.json (default for a PostgreSQL target: the bundled sample in data/sample; "
        "for Redshift: the [S3] paths of the config). S3 is read anonymously when no AWS "
        "credentials are configured; AWS_ENDPOINT_URL or [S3] ENDPOINT_URL points at another S3 store",
    )
    parser.add_argument(
        "--max-errors",
        type=int,
        default=0,
        metavar="N",
        help="load the good records and keep up to N rejected ones in rejected_records "
        "(default 0: the first rejected record fails the load, as COPY's MAXERROR 0)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--full",
        action="store_true",
        help="reload every source file and rebuild the star schema (default: stage only the files "
        "that are new since the last run, as the loaded_files ledger says, and update the star)",
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
        help="only the log files of this day or later (by the date in their path), for backfills",
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
        f"(default: one per core, up to four: {default_workers()} here; 0: all in this process)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the target, the summary and errors")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    if args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    return args


def dry_run(args) -> int:
    engine = args.engine or "redshift"
    try:
        config = read_config(args.config)
        source = args.source or (None if engine == "redshift" else DEFAULT_SOURCE)
        plan = planned_statements(engine, config, args.max_errors, source, full=not args.incremental)
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"-- etl.py --dry-run: every statement for {engine}, in order, in one transaction")
    print(as_script(plan), end="")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args)
    reporter = Reporter(quiet=args.quiet)
    connection = source = None
    try:
        target = choose_target(args.dsn, args.config, args.pgdata)
        reporter.always(f"Target: {target.label}")
        connection = connect(target)
        engine = args.engine or detect_engine(connection)
        require_tls(connection, engine)
        if args.check:
            result = check_warehouse(connection, engine)
            reporter.always(check_summary(result))
            return 0 if all(check.passed for check in result["checks"]) else 1
        if engine == "redshift":
            where = copy_locations(target.config, args.source)
            reporter.line(f"Source: {where['log_data']} and {where['song_data']}, read by Redshift's COPY")
            full = args.full
            if not full and not (args.since or args.until) and s3_setting(target.config, "MANIFEST_PREFIX") is None:
                full = True
                reporter.always("The config has no [S3] MANIFEST_PREFIX: the whole prefixes are copied, as with "
                                "--full. Set it for daily runs that copy only the new files.")
            result = run(
                connection, engine, args.source, args.max_errors, reporter, target.config,
                full=full, since=args.since, until=args.until,
            )
        else:
            source = open_source(
                args.source or DEFAULT_SOURCE,
                endpoint_url=s3_setting(target.config, "ENDPOINT_URL"),
                region=s3_setting(target.config, "REGION"),
            )
            reporter.line(f"Source: {source.label}")
            result = run(
                connection, engine, source, args.max_errors, reporter, target.config,
                full=args.full, since=args.since, until=args.until, workers=args.workers,
            )
        reporter.always(summary(result))
        return 0
    except CheckFailed as failure:
        reporter.always(summary(failure.args[0]))
        return 1
    except (LoadError, SourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was committed: the previous warehouse is unchanged.", file=sys.stderr)
        return 1
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        message = str(error).strip() or type(error).__name__
        if connection is not None and connection.closed:
            print(f"error: the database connection was lost ({message.splitlines()[0]}): "
                  "run etl.py again once the database is back", file=sys.stderr)
        else:
            print(f"error: the database said: {message}", file=sys.stderr)
        print("Nothing was committed: the previous warehouse is unchanged.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was committed, the previous warehouse is unchanged.", file=sys.stderr)
        return 130
    finally:
        if hasattr(source, "close"):
            source.close()
        if connection is not None:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
