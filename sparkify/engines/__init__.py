"""The databases a run can load: PostgreSQL (postgres.py) and Amazon Redshift (redshift.py).

Everything that is not the same on both lives in the engine's module; the
run asks its engine, never which engine it has. An engine is one module and
one entry in ENGINES (docs/design.md says what a third one needs).
"""

from sparkify.config import TargetError
from sparkify.engines import libpq
from sparkify.engines.base import Engine
from sparkify.engines.postgres import PostgresEngine
from sparkify.engines.redshift import RedshiftEngine

ENGINES = {engine.name: engine for engine in (PostgresEngine, RedshiftEngine)}


def engine_named(name: str, settings=None, workers=None, host=None) -> Engine:
    """The engine called ``name`` ("postgres" or "redshift"), with the config's ``settings`` (config.load()).

    ``host``: the server connected to, when it is not [CLUSTER] HOST (--dsn): Redshift's
    flavour (provisioned or Serverless) is told by its endpoint.
    """
    try:
        return ENGINES[name](settings=settings, workers=workers, host=host)
    except KeyError:
        raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}") from None


def detect_engine(connection) -> str:
    """The name of the engine behind ``connection``, from what the server says it is."""
    with libpq.translated(connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0]
        connection.rollback()
    for engine in ENGINES.values():
        if engine.recognises(version):
            return engine.name
    raise TargetError(f"the server is none of {', '.join(ENGINES)} (it says {version!r}): give --engine")
