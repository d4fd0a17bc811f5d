"""Stand up the Redshift warehouse, look at it, pause it, and take it all down again: cluster.py.

    python cluster.py create     # role, security group, warehouse; writes the endpoint into dwh.cfg
    python cluster.py status     # what exists, what it costs, whether it outlived its time-to-live
    python cluster.py pause      # a cluster: stop paying for compute, keep the data
    python cluster.py resume
    python cluster.py delete     # everything create made; safe to run twice, or after a failed create

Two kinds of deployment, chosen by ``[DWH] DEPLOYMENT`` (or $DWH_DEPLOYMENT):
a provisioned RA3 cluster (provisioned.py) or a Redshift Serverless
namespace and workgroup (serverless.py), two implementations of one
interface (deployment.py). What ``create`` makes besides, for both:

- an IAM role that only Redshift may assume, whose one inline policy reads
  only the S3 prefixes of the ``[S3]`` section (role.py);
- a security group of its own in the default VPC, which lets in the port
  from one CIDR: ``INGRESS_CIDR``, or your own public address as a /32;
  ``0.0.0.0/0`` is refused unless ``ALLOW_ANY_ADDRESS=yes`` (network.py);
- tags on everything (its owner, its creation time, a time-to-live), so that
  ``status`` can tell you it is still billing, and so that a resource of the
  same name that cluster.py did not make is never changed or deleted.

Each step finds what an earlier run made and keeps it, so ``create`` can be
run again after a failure. Credentials come from boto3's default chain
(environment, ``AWS_PROFILE``, ``aws sso login``); ``[AWS] KEY``/``SECRET``
in the config still work but are discouraged. ``AWS_ENDPOINT_URL`` redirects
every call (tests use moto). No password or key is ever printed.
"""

import argparse
import sys
import time

from sparkify import __version__
from sparkify.aws import network
from sparkify.aws.deployment import Deployment
from sparkify.aws.provisioned import ProvisionedCluster
from sparkify.aws.resources import ClusterError
from sparkify.aws.serverless import ServerlessWorkgroup
from sparkify.config import PASSWORD_ENV, Settings, TargetError, load_settings

DEPLOYMENTS = {deployment.name: deployment for deployment in (ProvisionedCluster, ServerlessWorkgroup)}


def deployment_for(settings: Settings, say=print, session=None, find_address=network.my_address, delay=30,
                   sleep=time.sleep) -> Deployment:
    """The deployment ``settings`` describe ([DWH] DEPLOYMENT), ready to create, report or delete."""
    kind = DEPLOYMENTS[settings.redshift.deployment]
    return kind(settings, say=say, session=session, find_address=find_address, delay=delay, sleep=sleep)


def create(settings: Settings, say=print, find_address=network.my_address, session=None, delay=30,
           sleep=time.sleep) -> dict:
    """Make what the settings describe (or keep what exists); the warehouse's description."""
    return deployment_for(settings, say, session, find_address, delay, sleep).create()


def teardown(settings: Settings, say=print, session=None, delay=30, sleep=time.sleep) -> None:
    deployment_for(settings, say, session, delay=delay, sleep=sleep).teardown()


def status(settings: Settings, session=None, now=None) -> dict:
    return deployment_for(settings, session=session).status(now)


def pause(settings: Settings, say=print, session=None) -> None:
    deployment_for(settings, say, session).pause()


def resume(settings: Settings, say=print, session=None, delay=30, sleep=time.sleep) -> None:
    deployment_for(settings, say, session, delay=delay, sleep=sleep).resume()


def format_status(report: dict) -> str:
    """A status report (``status()``) as lines for a person."""
    return DEPLOYMENTS[report["deployment"]].format_status(report)


def cost_text(settings: Settings) -> str:
    """What the deployment ``settings`` describe costs: per node-hour for a cluster, per RPU-hour of
    queries for Serverless, with its usage limit."""
    return deployment_for(settings).cost_text()


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


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
        f"${PASSWORD_ENV}. Nothing secret is printed. Exit status: 0 done, 1 delete not confirmed, 2 a "
        "configuration problem, a refusal (delete without a terminal and without --yes), or AWS out of reach, "
        "130 interrupted. What it may remove: only "
        "delete removes anything: the cluster, or the Serverless workgroup and namespace, with all the "
        "warehouse's data (no final snapshot), after a y to its question on a terminal, or with --yes.",
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
    args = parse_args(argv)
    try:
        deployment = deployment_for(load_settings(args.config))
        if args.command == "create":
            deployment.create()
        elif args.command == "status":
            print(deployment.format_status(deployment.status()))
        elif args.command == "pause":
            deployment.pause()
        elif args.command == "resume":
            deployment.resume()
        elif args.command == "delete":
            role = deployment.provisioning.role_name
            question = f"Delete {deployment.holdings}, its security group and role {role}?"
            if not args.yes and not sys.stdin.isatty():  # nobody to ask: a refusal, as create_tables.py's
                print(f"refused: deleting {deployment.holdings}, its security group and role {role} needs a y "
                      "on a terminal, or --yes; nothing was deleted", file=sys.stderr)
                return 2
            if not args.yes and not confirm(question):
                print("Nothing deleted.")
                return 1
            deployment.teardown()
        return 0
    except TargetError as error:  # ClusterError and AwsUnreachable are TargetErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: `python cluster.py status` shows what exists; `delete` removes it", file=sys.stderr)
        return 130


def confirm(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


__all__ = ["ClusterError", "DEPLOYMENTS", "cost_text", "create", "deployment_for", "format_status", "pause",
           "resume", "status", "teardown"]
