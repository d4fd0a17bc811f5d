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

import time

from sparkify.aws import network
from sparkify.aws.deployment import Deployment
from sparkify.aws.provisioned import ProvisionedCluster
from sparkify.aws.resources import ClusterError
from sparkify.aws.serverless import ServerlessWorkgroup
from sparkify.config import Settings

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


def confirm(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


__all__ = ["ClusterError", "DEPLOYMENTS", "cost_text", "create", "deployment_for", "format_status", "pause",
           "resume", "status", "teardown"]
