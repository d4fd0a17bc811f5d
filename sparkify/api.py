"""The warehouse as a library: what the scripts do, for tests, the benchmark and the notebook to import.

    from sparkify import api

    api.create_tables(connection, "postgres")           # create_tables.py
    result = api.run(connection, "postgres", "data/sample", full=False)   # etl.py
    checks, seconds = api.check(connection, "postgres")  # etl.py --check
    statements = api.plan("redshift", settings)         # etl.py --dry-run

``connection`` is a database connection (sparkify.engines.connect); an
engine is named ("postgres", "redshift") or given as an Engine; ``settings``
is config.load_settings()'s (None: the defaults). The scripts are command
lines over these functions (sparkify/cli.py).
"""

import time

import sql_queries as q
from sparkify.checks.reconciliation import run_checks
from sparkify.config import Settings, source_locations
from sparkify.engines import Engine, engine_named
from sparkify.output.report import Reporter
from sparkify.run import pipeline
from sparkify.run.dry_run import planned_statements

__all__ = ["check", "create_tables", "open_run", "plan", "run", "table_statements"]


def _engine(engine, settings=None, workers=None, host=None) -> Engine:
    return engine if isinstance(engine, Engine) else engine_named(engine, settings or Settings(), workers, host=host)


def open_run(engine, settings, source, full=True, dated=False):
    """(the source, a note for the user or None) for a run of ``engine``: ``source`` (a folder or an
    S3 URL), else the bundled sample on PostgreSQL, else the [S3] paths of the config."""
    where = source_locations(settings or Settings(), source, engine.default_source, engine.required_settings)
    return engine.open_source(where, full, dated)


def run(connection, engine, source, max_errors=0, reporter=None, settings=None, full=True, since=None, until=None,
        workers=None, allow_empty=False, target=""):
    """The ETL in one transaction (etl.py): ``source`` a folder, an S3 URL, a source object, or None for the
    engine's default. Returns the RunResult; raises CheckFailed (rolled back) when a check fails."""
    engine = _engine(engine, settings, workers)
    if hasattr(source, "files"):  # already a source object (a folder's or an S3 prefix's)
        opened = source
    else:
        opened, _ = open_run(engine, settings, source, full, bool(since or until))
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors, allow_empty=allow_empty)
    try:
        return pipeline.run(connection, engine, opened, request, reporter, target=target)
    finally:
        if hasattr(opened, "close"):
            opened.close()


def check(connection, engine, reporter=None):
    """(the whole-warehouse checks, seconds) in one snapshot, once no load is running; changes nothing."""
    engine = _engine(engine)
    reporter = reporter or Reporter(quiet=True)
    started = time.perf_counter()
    with engine.read_only(connection, reporter), engine.cursor_on(connection) as cursor:
        checks = run_checks(cursor, engine.enforced_constraints(cursor))
    return checks, time.perf_counter() - started


def plan(engine, settings=None, max_errors=0, source=None, full=True, since=None, until=None) -> list[str]:
    """Every statement a run would send to ``engine``, in order, without connecting (etl.py --dry-run)."""
    engine = _engine(engine, settings)
    opened, _ = open_run(engine, settings, source, full, bool(since or until))
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors)
    return planned_statements(engine, opened, request)


def table_statements(engine) -> list[str]:
    """Every statement create_tables.py runs, in order, as ``engine``'s cursor sends them."""
    from sparkify.run.dry_run import RecordingConnection

    engine = _engine(engine)
    connection = RecordingConnection(engine.inline)
    create_tables(connection, engine)
    return [statement for statement in connection.statements if statement not in ("BEGIN", "COMMIT")]


def create_tables(connection, engine) -> None:
    """Drop and create the staging tables and the star schema, in one transaction (create_tables.py)."""
    engine = _engine(engine)
    with pipeline.transaction(connection, engine, reporter=None) as cursor:
        for statement in q.drop_table_queries:
            cursor.execute(statement)
        for statement in q.create_table_queries:
            for part in engine.table_statements(statement):
                cursor.execute(part)
    engine.commit(connection)
