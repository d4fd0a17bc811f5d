"""Redraw the README's chart(s) from the bundled sample, as the notebook draws them.

    python -m docs.make_plots                      # docs/plays_by_hour.png, from data/sample
    python -m docs.make_plots --question top_artists --question plays_by_platform

Run it from the project's root, as a module (``-m``), so that etl.py and
sparkify/ are importable. It needs the notebook's packages
(requirements-notebook.txt).

The sample is loaded into a schema of its own (dropped afterwards) in the
embedded PostgreSQL, or in the PostgreSQL of --dsn / $DWH_DSN, so that the
warehouse you work on is left as it was. The charts come from the same
functions as in creating_cluster.ipynb: questions.ask() and charts.chart().
"""

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.pyplot as plt  # noqa: E402
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

from sparkify import api  # noqa: E402
from sparkify.analytics import charts  # noqa: E402
from sparkify.analytics import questions as analytics  # noqa: E402
from sparkify.config import DEFAULT_SOURCE, load_settings, target_choice  # noqa: E402
from sparkify.engines import embedded as local_postgres  # noqa: E402
from sparkify.engines.embedded import fresh_schema  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parent.parent

SCHEMA = "sparkify_make_plots"
DEFAULT_QUESTIONS = ["plays_by_hour"]


def load_sample(dsn: str, source: Path):
    """A connection to a fresh schema holding the star schema of ``source``."""
    connection = psycopg2.connect(fresh_schema(dsn, SCHEMA))
    api.create_tables(connection, "postgres")
    api.run(connection, "postgres", source)
    return connection


def drop_schema(dsn: str) -> None:
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    admin.close()


def draw(connection, question: str, path: Path) -> Path:
    """One chart, saved as a PNG with no timestamp in it, so that a redraw changes no byte."""
    ax = charts.chart(question, analytics.ask(connection, question))
    ax.figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(ax.figure)
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m docs.make_plots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="a PostgreSQL to load the sample into, in a schema of its own "
                        "(default: $DWH_DSN, else the embedded PostgreSQL)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="default: data/sample")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs", help="folder for the PNGs (default: docs)")
    parser.add_argument("--question", action="append", choices=sorted(analytics.questions),
                        help=f"a chart to draw; repeat for several (default: {', '.join(DEFAULT_QUESTIONS)})")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    choice = target_choice(load_settings(), args.dsn)  # --dsn, else $DWH_DSN
    dsn = choice.dsn.reveal() if choice.kind == "dsn" else local_postgres.start()
    args.out.mkdir(parents=True, exist_ok=True)
    connection = load_sample(dsn, args.source)
    try:
        for question in args.question or DEFAULT_QUESTIONS:
            print(f"wrote {draw(connection, question, args.out / f'{question}.png')}")
    finally:
        connection.close()
        drop_schema(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
