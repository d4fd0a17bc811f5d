"""What the scripts share on the command line: the target options, --version, and exit statuses.

Exit statuses: 0 done; 1 the run failed (nothing committed) or a check
failed; 2 a configuration or connection problem; 130 Ctrl-C; 143 SIGTERM;
129 SIGHUP.
"""

from sparkify import __version__

OK, FAILED, CONFIG_ERROR, INTERRUPTED = 0, 1, 2, 130


def add_target_arguments(parser) -> None:
    """The options every script that talks to the warehouse takes."""
    parser.add_argument("--version", action="version", version=f"%(prog)s (sparkify) {__version__}")
    parser.add_argument(
        "--engine",
        choices=["redshift", "postgres"],
        help="the SQL dialect of the target (default: asked of the server with version())",
    )
    parser.add_argument(
        "--dsn",
        help="connect to this libpq DSN or URI (PostgreSQL or Redshift); default: $DWH_DSN, "
        "then [CLUSTER] in the config, then the embedded PostgreSQL",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $DWH_CONFIG, else dwh.cfg next to the scripts)",
    )
    parser.add_argument(
        "--pgdata",
        metavar="DIR",
        help="data folder of the embedded PostgreSQL (default: .pgdata in the project)",
    )
