"""Create, inspect, pause and delete the Redshift cluster and its IAM role: python cluster.py --help.

This file is the command line; the work is sparkify/aws/cluster.py, the
command sparkify.cli.cluster().
"""

import argparse
import sys

from sparkify import __version__, cli
from sparkify.config import PASSWORD_ENV


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="cluster.py",
        description="Create, inspect, pause, resume and delete the Sparkify Redshift warehouse, with an IAM role "
        "that reads only the source in S3 and a security group open to one address. Two kinds: a provisioned "
        "RA3 cluster ([DWH] DEPLOYMENT=provisioned, the default), or Redshift Serverless "
        "([DWH] DEPLOYMENT=serverless: a namespace and a workgroup of BASE_CAPACITY_RPUS, 8 by default, that "
        "scales to MAX_CAPACITY_RPUS at most, the base by default, with a daily usage limit of "
        "USAGE_LIMIT_RPU_HOURS as the cost guard). "
        "Settings come from the [DWH] section of dwh.cfg (see dwh.cfg.example); $DWH_DEPLOYMENT wins over "
        "[DWH] DEPLOYMENT.",
        epilog="AWS credentials come from boto3's default chain: AWS_PROFILE, `aws sso login`, or the "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables. The database password comes from "
        f"${PASSWORD_ENV}. Nothing secret is printed. What it may remove: only delete removes anything: the "
        "cluster, or the Serverless workgroup and namespace, with all the warehouse's data (no final snapshot), "
        "after a y to its question on a terminal, or with --yes; without a terminal and without --yes it is "
        "refused. " + cli.EXIT_STATUSES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (sparkify) {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file, read or an error (default: $DWH_CONFIG, else dwh.cfg next to "
                        "this script; the flag wins over the variable)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "create", help="create the role, security group and cluster, or with DEPLOYMENT=serverless the "
        "Serverless namespace, workgroup and usage limit (or keep those that exist), wait until available, "
        "then write the endpoint and the role ARN into the config",
        description="Create the role, security group and cluster (or, with [DWH] DEPLOYMENT=serverless, a "
        "Redshift Serverless namespace and workgroup with a daily usage limit), wait for it, and write its "
        "endpoint and the role ARN into the config. Safe to run again.",
    )
    commands.add_parser("status", help="what exists, its hourly cost class, and whether the cluster has outlived "
                        "its time-to-live")
    commands.add_parser("pause", help="pause the cluster: compute stops billing, the data stays (Serverless: "
                        "does not apply, it pauses itself when idle)")
    commands.add_parser("resume", help="resume a paused cluster and wait until it is available (Serverless: "
                        "does not apply)")
    delete = commands.add_parser(
        "delete", help="delete the cluster (no final snapshot), or the Serverless workgroup and namespace, the "
        "ingress rule, the security group and the role; safe to run twice",
        description="Delete everything create made. The warehouse's data is lost: rebuild it with etl.py. "
        "Safe to run twice, or after a failed create.",
    )
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return cli.cluster(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
