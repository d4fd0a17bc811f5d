"""The warehouse as a library: what the scripts do, for tests, the benchmark and the notebook to import.

    from sparkify import api

    api.create_tables(connection, "postgres")           # create_tables.py (tables that hold no row)
    api.create_tables(connection, "postgres", drop_data=True)   # create_tables.py --drop-data
    result = api.run(connection, "postgres", "data/sample", full=False)   # etl.py
    rows = api.rows_held(connection, "postgres")       # table -> its rows
    checks, seconds = api.check(connection, "postgres")  # etl.py --check
    statements = api.plan("redshift", settings)         # etl.py --dry-run

``connection`` is a database connection (sparkify.engines.connect); an
engine is named ("postgres", "redshift") or given as an Engine; ``settings``
is config.load_settings()'s (None: the defaults). The scripts are command
lines over these functions (sparkify/cli.py).
"""

import time

from sparkify.checks.reconciliation import run_checks
from sparkify.config import S3_PATHS, Settings, with_placeholders
from sparkify.engines import ENGINES, Engine, engine_named
from sparkify.output.report import Reporter
from sparkify.run import pipeline, recreate
from sparkify.run.dry_run import RecordingConnection, planned_statements
from sparkify.run.ledger import held_source
from sparkify.run.which_source import run_locations

__all__ = ["check", "create_tables", "open_run", "placeholders", "plan", "rows_held", "run", "table_statements"]


def _engine(engine, settings=None, workers=None, host=None) -> Engine:
    return engine if isinstance(engine, Engine) else engine_named(engine, settings or Settings(), workers, host=host)


def open_run(engine, settings, source, full=True, dated=False, connection=None):
    """(the source, a note for the user or None) for a run of ``engine``: ``source`` (a folder or an
    S3 URL), else the source the warehouse holds (read through ``connection``), else the bundled sample
    on PostgreSQL or the [S3] paths of the config."""
    held = held_source(connection, engine) if connection is not None and not source else None
    where, note = run_locations(engine, settings or Settings(), source, held)
    opened, engine_note = engine.open_source(where, full, dated)
    return opened, "\n".join(line for line in (note, engine_note) if line) or None


def run(connection, engine, source, max_errors=0, reporter=None, settings=None, full=True, since=None, until=None,
        workers=None, allow_empty=False, target="", replace_source=False):
    """The ETL in one transaction (etl.py): ``source`` a folder, an S3 URL, a source object, or None for the
    source the warehouse holds (the engine's default when it holds nothing); ``replace_source``: as
    --replace-source. Returns the RunResult; raises CheckFailed (rolled back) when a check fails, Refused
    (nothing begun) when the run would remove rows it does not name."""
    engine = _engine(engine, settings, workers)
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors, allow_empty=allow_empty,
                               replace_source=replace_source)
    if hasattr(source, "files"):  # already a source object (a folder's or an S3 prefix's)
        opened = source
    else:
        opened, _ = open_run(engine, settings, source, full, bool(since or until), connection)
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
    """Every statement a run would send to ``engine``, in order, without connecting (etl.py --dry-run).

    A setting the run needs and the config does not give is shown as a
    placeholder, ``'<[IAM_ROLE] ARN>'`` (placeholders() names them).
    """
    settings, _ = placeholders(engine, settings, source)
    engine = _engine(engine, settings)
    request = pipeline.Request(full=full, since=since, until=until, max_errors=max_errors)
    opened, _ = open_run(engine, settings, source, full, bool(since or until))
    return planned_statements(engine, opened, request, reads_held_source=not source)


def placeholders(engine, settings=None, source=None) -> tuple[Settings, list[str]]:
    """(``settings`` with a placeholder for each key a run of ``engine`` reads and the config does not set,
    those keys as "[SECTION] KEY"): the [S3] paths, unless ``source`` or the engine's default names the
    source, and the engine's own (Redshift's [IAM_ROLE] ARN)."""
    kind = engine if isinstance(engine, Engine) else ENGINES[engine]
    needed = ([] if source or kind.default_source else list(S3_PATHS)) + list(kind.required_settings)
    return with_placeholders(settings or Settings(), needed)


def table_statements(engine) -> list[str]:
    """The statements that drop and create the tables, in order, as ``engine``'s cursor sends them (what
    create_tables.py --dry-run prints between BEGIN and COMMIT)."""
    engine = _engine(engine)
    connection = RecordingConnection(engine.inline)
    with engine.cursor_on(connection) as cursor:
        recreate.drop_and_create(cursor, engine)
    return [statement for statement in connection.statements if statement != "BEGIN"]


def create_tables(connection, engine, drop_data=False, agreed=None, reporter=None) -> dict[str, int]:
    """Drop and create the staging tables, the star schema and the ledger, in one transaction, after the
    engine's lock (create_tables.py); return the rows dropped, by table. Tables that hold rows are dropped
    only with ``drop_data``, or when they hold exactly ``agreed`` (what a person said yes to); otherwise
    Refused, and nothing changes (sparkify/run/recreate.py)."""
    return recreate.create_tables(connection, _engine(engine), drop_data, agreed, reporter)


def rows_held(connection, engine, reporter=None) -> dict[str, int]:
    """table -> its rows, for each of the project's tables that exists, counted once no load is running."""
    return recreate.rows_held(connection, _engine(engine), reporter)
