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
        help="connect to this libpq DSN or URI (PostgreSQL or Redshift). The target is the first of: --dsn or "
        "--pgdata (not both), $DWH_DSN, [CLUSTER] HOST of the config, the embedded PostgreSQL: a flag wins over "
        "the environment, which wins over the config",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file, read or an error, never replaced by a default (default: $DWH_CONFIG, else "
        "dwh.cfg next to the scripts; the flag wins over the variable)",
    )
    parser.add_argument(
        "--pgdata",
        metavar="DIR",
        help="use the embedded PostgreSQL with this data folder, whatever $DWH_DSN or [CLUSTER] HOST say: a "
        "path that does not exist yet (it is made, mode 0700) or the folder of an earlier run (default, when "
        "neither names a target: .pgdata in the project)",
    )
