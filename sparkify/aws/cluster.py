"""Stand up the Redshift cluster, look at it, pause it, and take it all down again.

    python cluster.py create     # role, security group, cluster; writes the endpoint into dwh.cfg
    python cluster.py status     # what exists, what it costs an hour, whether it outlived its time-to-live
    python cluster.py pause      # stop paying for compute, keep the data
    python cluster.py resume
    python cluster.py delete     # everything create made; safe to run twice, or after a failed create

What ``create`` makes, from the ``[DWH]`` section of ``dwh.cfg``:

- an IAM role that only Redshift can assume, whose one inline policy reads
  only the S3 prefixes of the ``[S3]`` section (the source), nothing else;
- a security group of its own in the default VPC, which lets in the
  cluster's port from one CIDR: ``INGRESS_CIDR``, or your own public address
  as a /32. ``0.0.0.0/0`` is refused unless ``ALLOW_ANY_ADDRESS=yes``;
- an encrypted cluster, tagged with its owner, its creation time and a
  time-to-live, so that ``status`` can tell you it is still billing.

Each step finds what an earlier run made and keeps it, so ``create`` can be
run again after a failure. Resources are recognised by their
``managed-by`` tag: a cluster, role or group of the same name that this
module did not make is never changed or deleted.

Credentials come from boto3's default chain (environment, ``AWS_PROFILE``,
``aws sso login``); ``[AWS] KEY``/``SECRET`` in the config still work but are
discouraged. ``AWS_ENDPOINT_URL`` redirects every call (tests use moto). No
password or key is ever printed.
"""

import argparse
import datetime
import getpass
import ipaddress
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, WaiterError

from sparkify import __version__
from sparkify.config import PASSWORD_ENV, TargetError, config_path, read_config

MANAGED_BY = ("managed-by", "sparkify-cluster.py")
RULE_DESCRIPTION = "sparkify cluster.py"
ADDRESS_LOOKUP = "https://checkip.amazonaws.com"

# On-demand price of one node-hour in US East (N. Virginia), in USD, for a
# sense of scale: other regions differ a little, reserved nodes a lot
# (https://aws.amazon.com/redshift/pricing/).
NODE_HOUR_USD = {
    "ra3.large": 0.543,
    "ra3.xlplus": 1.086,
    "ra3.4xlarge": 3.26,
    "ra3.16xlarge": 13.04,
}
# DC2 nodes were deprecated by AWS in April 2025 in favour of RA3 and
# Serverless: cluster.py creates none, but still prices and reports an
# existing one, so that it can be found and deleted.
DEPRECATED_NODE_HOUR_USD = {
    "dc2.large": 0.25,
    "dc2.8xlarge": 4.80,
}


def default_node_type(nodes: int) -> str:
    """The smallest current RA3 node type that a cluster of ``nodes`` nodes can use.

    From the node-type table ("RA3 node types", column "Node range") of the
    Amazon Redshift Management Guide, "Amazon Redshift provisioned clusters",
    https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-clusters.html:
    ra3.large is the smallest RA3 node but starts at two nodes; ra3.xlplus is
    the RA3 type that can be created as a single-node cluster.
    """
    return "ra3.xlplus" if nodes == 1 else "ra3.large"


def is_deprecated(node_type) -> bool:
    return str(node_type or "").startswith("dc2.")


DEPLOYMENTS = ("provisioned", "serverless")
# What a Serverless workgroup does once its daily RPU-hours are used up
# (CreateUsageLimit's breachAction; emit-metric is left out: nothing here reads it).
USAGE_LIMIT_ACTIONS = ("deactivate", "log")


class ClusterError(Exception):
    """Something a person has to fix or decide, worded for them."""


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What to create, read from dwh.cfg. Holds no password."""

    config_path: Path
    identifier: str
    node_type: str
    nodes: int
    region: str | None
    publicly_accessible: bool
    ingress_cidr: str | None
    allow_any_address: bool
    role_name: str
    security_group_name: str
    owner: str | None
    ttl_hours: float
    db_name: str
    db_user: str
    port: int
    sources: tuple[str, ...]
    config: object = field(repr=False, compare=False, default=None)
    # Redshift Serverless (DEPLOYMENT=serverless): a namespace and a workgroup
    deployment: str = "provisioned"
    namespace: str = "sparkify"
    workgroup: str = "sparkify"
    base_rpus: int = 8
    usage_limit_rpu_hours: int = 16
    usage_limit_action: str = "deactivate"

    @property
    def serverless(self) -> bool:
        return self.deployment == "serverless"


def read_settings(config_file=None) -> Settings:
    """The [DWH] section, with the database and user of [CLUSTER] and the sources of [S3].

    The database, user and password are those of [CLUSTER], the section the
    scripts connect with, so that the two can never disagree.
    """
    path = config_path(config_file)
    if not path.exists():
        raise ClusterError(f"config file {path} not found: copy dwh.cfg.example to {path} and fill in [DWH]")
    try:
        config = read_config(path)
    except TargetError as error:
        raise ClusterError(str(error)) from None
    if not config.has_section("DWH"):
        raise ClusterError(f"{path} has no [DWH] section: copy it from dwh.cfg.example")
    dwh = config["DWH"]
    cluster = config["CLUSTER"] if config.has_section("CLUSTER") else {}

    def text(section, key, default=None):
        return (section.get(key) or "").strip() or default

    def number(section, key, default, kind=int):
        value = text(section, key, str(default))
        try:
            return kind(value)
        except ValueError:
            raise ClusterError(f"{path}: {key} must be a number, not {value!r}") from None

    def yes(key, default):
        value = text(dwh, key, default).lower()
        if value not in ("yes", "no", "true", "false", "1", "0"):
            raise ClusterError(f"{path}: [DWH] {key} must be yes or no, not {value!r}")
        return value in ("yes", "true", "1")

    deployment = text(dwh, "DEPLOYMENT", "provisioned").lower()
    if deployment not in DEPLOYMENTS:
        raise ClusterError(f"{path}: [DWH] DEPLOYMENT must be provisioned or serverless, not {deployment!r}")
    action = text(dwh, "USAGE_LIMIT_ACTION", "deactivate").lower()
    if action not in USAGE_LIMIT_ACTIONS:
        raise ClusterError(f"{path}: [DWH] USAGE_LIMIT_ACTION must be deactivate (user queries are turned off "
                           f"until the next day) or log (only recorded), not {action!r}")
    identifier = text(dwh, "CLUSTER_IDENTIFIER", "sparkify")

    s3 = config["S3"] if config.has_section("S3") else {}
    # MANIFEST_PREFIX: the lists of new files an incremental etl.py run has COPY read
    sources = tuple(
        text(s3, key) for key in ("LOG_DATA", "LOG_JSONPATH", "SONG_DATA", "MANIFEST_PREFIX") if text(s3, key)
    )
    settings = Settings(
        config_path=path,
        identifier=identifier,
        node_type=text(dwh, "NODE_TYPE") or default_node_type(number(dwh, "NUM_NODES", 1)),
        nodes=number(dwh, "NUM_NODES", 1),
        region=text(dwh, "REGION"),
        publicly_accessible=yes("PUBLICLY_ACCESSIBLE", "no"),
        ingress_cidr=text(dwh, "INGRESS_CIDR"),
        allow_any_address=yes("ALLOW_ANY_ADDRESS", "no"),
        role_name=text(dwh, "IAM_ROLE_NAME", "sparkify-redshift-s3-read"),
        security_group_name=text(dwh, "SECURITY_GROUP_NAME", "sparkify-redshift"),
        owner=text(dwh, "OWNER"),
        ttl_hours=number(dwh, "TIME_TO_LIVE_HOURS", 4, float),
        db_name=text(cluster, "DB_NAME", "dev"),
        db_user=text(cluster, "DB_USER", "awsuser"),
        port=number(cluster, "DB_PORT", 5439),
        sources=sources,
        config=config,
        deployment=deployment,
        namespace=text(dwh, "NAMESPACE", identifier),
        workgroup=text(dwh, "WORKGROUP", identifier),
        base_rpus=number(dwh, "BASE_CAPACITY_RPUS", 8),
        usage_limit_rpu_hours=number(dwh, "USAGE_LIMIT_RPU_HOURS", 16),
        usage_limit_action=action,
    )
    if settings.nodes < 1:
        raise ClusterError(f"{path}: [DWH] NUM_NODES must be 1 or more")
    if settings.base_rpus < 8 or settings.base_rpus % 8:
        raise ClusterError(f"{path}: [DWH] BASE_CAPACITY_RPUS must be 8 or more, in steps of 8 (8, 16, 24, ...), "
                           f"not {settings.base_rpus}")
    if settings.usage_limit_rpu_hours < 1:
        raise ClusterError(f"{path}: [DWH] USAGE_LIMIT_RPU_HOURS must be 1 or more: it is the cost guard of "
                           "a Serverless workgroup")
    return settings


def master_password(settings: Settings) -> str:
    """The password of the database user: $DWH_DB_PASSWORD, else [CLUSTER] DB_PASSWORD.

    Checked against Redshift's rules here, so that a mistake is explained
    before anything is created. The password itself is never shown.
    """
    config = settings.config
    password = os.environ.get(PASSWORD_ENV) or (
        config.get("CLUSTER", "DB_PASSWORD", fallback="").strip() if config is not None else ""
    )
    if not password:
        raise ClusterError(
            f"no database password: set the {PASSWORD_ENV} environment variable "
            "(or [CLUSTER] DB_PASSWORD, which is less safe)"
        )
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not (any(c.isupper() for c in password) and any(c.islower() for c in password)
            and any(c.isdigit() for c in password)):
        problems.append("an upper-case letter, a lower-case letter and a digit")
    if any(c in "'\"\\/@ " or not c.isascii() or not c.isprintable() for c in password):
        problems.append("no quote, backslash, slash, @, space or non-ASCII character")
    if problems:
        raise ClusterError(f"the database password does not meet Redshift's rules: it needs {'; '.join(problems)}")
    return password


def aws_session(settings: Settings):
    """A boto3 session: the default credential chain, or [AWS] KEY/SECRET when both are set."""
    config = settings.config
    key = config.get("AWS", "KEY", fallback="").strip() if config is not None else ""
    secret = config.get("AWS", "SECRET", fallback="").strip() if config is not None else ""
    if key and secret:
        return boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=settings.region)
    return boto3.Session(region_name=settings.region)


# ---------------------------------------------------------------------------
# The IAM role: Redshift may assume it, and it reads only the source
# ---------------------------------------------------------------------------


def s3_locations(sources) -> list[tuple[str, str]]:
    """(bucket, key prefix) for each s3:// URI of the source."""
    locations = []
    for uri in sources:
        if not uri.startswith("s3://") or len(uri) <= len("s3://"):
            raise ClusterError(f"[S3] paths must look like s3://bucket/prefix, not {uri!r}")
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        locations.append((bucket, prefix))
    return locations


def trust_policy(serverless: bool = False) -> dict:
    """Who may assume the role: Redshift; for Serverless, Redshift Serverless too.

    "Granting permissions to Amazon Redshift Serverless" (Management Guide,
    https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-security-other-services.html)
    asks for both redshift-serverless.amazonaws.com and redshift.amazonaws.com
    as principals of a role that Serverless uses.
    """
    services = ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"] if serverless else \
        "redshift.amazonaws.com"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": services},
            "Action": "sts:AssumeRole",
        }],
    }


def read_policy(sources) -> dict:
    """Read the objects under each source prefix, list only those prefixes: nothing else.

    A prefix is matched as COPY matches it (``log_data`` covers
    ``log_data/2018/...``); ``GetBucketLocation`` lets COPY find the region.
    """
    locations = s3_locations(sources)
    if not locations:
        raise ClusterError("the config's [S3] section names no source: set LOG_DATA, LOG_JSONPATH and SONG_DATA")
    statements = [{
        "Sid": "ReadSourceObjects",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": sorted({f"arn:aws:s3:::{bucket}/{prefix}*" for bucket, prefix in locations}),
    }]
    for bucket in sorted({bucket for bucket, _ in locations}):
        prefixes = sorted({f"{prefix}*" for name, prefix in locations if name == bucket})
        statements.append({
            "Sid": f"ListSource{len(statements)}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": prefixes}},
        })
    statements.append({
        "Sid": "FindSourceRegion",
        "Effect": "Allow",
        "Action": "s3:GetBucketLocation",
        "Resource": sorted({f"arn:aws:s3:::{bucket}" for bucket, _ in locations}),
    })
    return {"Version": "2012-10-17", "Statement": statements}


def ensure_role(iam, settings: Settings, tags) -> str:
    """Create the role (or keep ours), give it exactly the read policy; return its ARN."""
    try:
        role = iam.create_role(
            RoleName=settings.role_name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(settings.serverless)),
            Description="Lets the Sparkify Redshift cluster read its source in S3 (cluster.py)",
            Tags=tags,
        )["Role"]
    except ClientError as error:
        if _code(error) != "EntityAlreadyExists":
            raise
        role = iam.get_role(RoleName=settings.role_name)["Role"]
        _refuse_unless_ours("IAM role", settings.role_name, _role_tags(iam, role), "IAM_ROLE_NAME")
        # The same role may have been made for the other deployment: trust exactly this one's principals.
        iam.update_assume_role_policy(RoleName=settings.role_name,
                                      PolicyDocument=json.dumps(trust_policy(settings.serverless)))
    iam.put_role_policy(
        RoleName=settings.role_name,
        PolicyName=policy_name(settings),
        PolicyDocument=json.dumps(read_policy(settings.sources)),
    )
    iam.get_waiter("role_exists").wait(RoleName=settings.role_name)
    return role["Arn"]


def policy_name(settings: Settings) -> str:
    return f"{settings.role_name}-read-source"


def delete_role(iam, settings: Settings, say) -> None:
    try:
        role = iam.get_role(RoleName=settings.role_name)["Role"]
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise
        say(f"role {settings.role_name}: already gone")
        return
    _refuse_unless_ours("IAM role", settings.role_name, _role_tags(iam, role), "IAM_ROLE_NAME")
    for name in iam.list_role_policies(RoleName=settings.role_name)["PolicyNames"]:
        _ignore_missing(iam.delete_role_policy, RoleName=settings.role_name, PolicyName=name)
    for policy in iam.list_attached_role_policies(RoleName=settings.role_name)["AttachedPolicies"]:
        _ignore_missing(iam.detach_role_policy, RoleName=settings.role_name, PolicyArn=policy["PolicyArn"])
    _ignore_missing(iam.delete_role, RoleName=settings.role_name)
    say(f"role {settings.role_name}: deleted, with its policy")


def _role_tags(iam, role):
    # get_role returns the tags on AWS; list_role_tags is the documented way.
    return role.get("Tags") or iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])


# ---------------------------------------------------------------------------
# The security group: the cluster's port, open to one CIDR
# ---------------------------------------------------------------------------


def my_address(timeout=5) -> str:
    """This machine's public IP address, as the internet sees it."""
    with urllib.request.urlopen(ADDRESS_LOOKUP, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return response.read(64).decode("ascii").strip()


def ingress_cidr(settings: Settings, find_address=my_address, say=print) -> str:
    """The one CIDR allowed in: the config's, or this machine's address as a /32.

    A network of every address (``0.0.0.0/0``, ``::/0``) is refused unless
    the config says ALLOW_ANY_ADDRESS=yes, and then comes with a warning.
    """
    where = f"INGRESS_CIDR in the [DWH] section of {settings.config_path}"
    text = settings.ingress_cidr
    if not text:
        try:
            text = find_address()
            ipaddress.ip_address(text)
        except (OSError, ValueError) as error:
            raise ClusterError(
                f"could not find your public address ({error}): set {where} to the address you "
                "will connect from, e.g. 203.0.113.7/32"
            ) from None
        say(f"your public address is {text}: only it may connect (set {where} to choose)")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ClusterError(f"{where} is not an address or network: {text!r}") from None
    if network.prefixlen == 0:
        if not settings.allow_any_address:
            raise ClusterError(
                f"{where} is {network}: that lets the whole internet try to log in to the cluster. "
                "Give your own address (e.g. 203.0.113.7/32), or set [DWH] ALLOW_ANY_ADDRESS=yes "
                "if you really mean it"
            )
        say(f"WARNING: port {settings.port} will be open to {network}, the whole internet "
            "(ALLOW_ANY_ADDRESS=yes): only the password protects the cluster")
    return str(network)


def default_vpc(ec2) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ClusterError(
            "this region has no default VPC for the cluster: create one with "
            "`aws ec2 create-default-vpc`, or pick another [DWH] REGION"
        )
    return vpcs[0]["VpcId"]


def find_security_group(ec2, settings: Settings) -> dict | None:
    """Our group of that name, or None; a group of that name that is not ours is refused."""
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [settings.security_group_name]}]
    )["SecurityGroups"]
    for group in groups:
        _refuse_unless_ours("security group", settings.security_group_name, group.get("Tags"),
                            "SECURITY_GROUP_NAME")
    return groups[0] if groups else None


def ensure_security_group(ec2, settings: Settings, tags) -> str:
    group = find_security_group(ec2, settings)
    if group:
        return group["GroupId"]
    return ec2.create_security_group(
        GroupName=settings.security_group_name,
        Description="Sparkify Redshift: the cluster port, from one address (cluster.py)",
        VpcId=default_vpc(ec2),
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]


def _permission(port, cidr, description=RULE_DESCRIPTION) -> dict:
    network = ipaddress.ip_network(cidr)
    ranges = ("Ipv6Ranges", "CidrIpv6") if network.version == 6 else ("IpRanges", "CidrIp")
    entry = {ranges[1]: str(network)}
    if description:
        entry["Description"] = description
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, ranges[0]: [entry]}


def open_port(ec2, group_id: str, port: int, cidr: str) -> None:
    """Make the group's ingress exactly: ``port`` from ``cidr``. Earlier rules (an old address) go."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    for rule in ingress_rules(group):
        if rule != (port, cidr):
            _ignore_missing(ec2.revoke_security_group_ingress, GroupId=group_id,
                            IpPermissions=[_permission(rule[0], rule[1], None)])
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(port, cidr)])
    except ClientError as error:
        if _code(error) != "InvalidPermission.Duplicate":
            raise


def ingress_rules(group) -> list[tuple[int, str]]:
    """(port, CIDR) of each TCP rule that lets addresses in."""
    rules = []
    for permission in group.get("IpPermissions", []):
        for entry in permission.get("IpRanges", []):
            rules.append((permission.get("FromPort"), entry["CidrIp"]))
        for entry in permission.get("Ipv6Ranges", []):
            rules.append((permission.get("FromPort"), entry["CidrIpv6"]))
    return rules


def close_port(ec2, settings: Settings, say) -> str | None:
    """Revoke every ingress rule of our group; return the group's id, or None when it is gone."""
    group = find_security_group(ec2, settings)
    if group is None:
        say(f"security group {settings.security_group_name}: already gone")
        return None
    for port, cidr in ingress_rules(group):
        _ignore_missing(ec2.revoke_security_group_ingress, GroupId=group["GroupId"],
                        IpPermissions=[_permission(port, cidr, None)])
        say(f"security group {settings.security_group_name}: port {port} closed to {cidr}")
    return group["GroupId"]


def delete_security_group(ec2, settings: Settings, group_id, say, attempts=10, delay=30, sleep=time.sleep):
    """Delete the group; its network interfaces can outlive the cluster by a minute, so retry."""
    for attempt in range(1, attempts + 1):
        try:
            ec2.delete_security_group(GroupId=group_id)
            say(f"security group {settings.security_group_name}: deleted")
            return
        except ClientError as error:
            if _code(error) == "InvalidGroup.NotFound":
                return
            if _code(error) != "DependencyViolation" or attempt == attempts:
                raise
            say(f"security group {settings.security_group_name}: still in use, retrying in {delay} s")
            sleep(delay)


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------


def describe_cluster(redshift, identifier: str) -> dict | None:
    try:
        return redshift.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0]
    except ClientError as error:
        if _code(error) == "ClusterNotFound":
            return None
        raise


def ensure_cluster(redshift, settings: Settings, password: str, role_arn: str, group_id: str, tags) -> dict:
    """Create the cluster (or keep ours); returns its description."""
    existing = describe_cluster(redshift, settings.identifier)
    if existing:
        _refuse_unless_ours("cluster", settings.identifier, existing.get("Tags"), "CLUSTER_IDENTIFIER")
        if existing.get("ClusterStatus") == "deleting":
            raise ClusterError(f"cluster {settings.identifier} is being deleted: when `python cluster.py status` "
                               "shows none, create it again")
        return existing
    options = {
        "ClusterIdentifier": settings.identifier,
        "NodeType": settings.node_type,
        "ClusterType": "single-node" if settings.nodes == 1 else "multi-node",
        "DBName": settings.db_name,
        "MasterUsername": settings.db_user,
        "MasterUserPassword": password,
        "Port": settings.port,
        "IamRoles": [role_arn],
        "VpcSecurityGroupIds": [group_id],
        "Encrypted": True,
        "PubliclyAccessible": settings.publicly_accessible,
        "Tags": tags,
    }
    if settings.nodes > 1:
        options["NumberOfNodes"] = settings.nodes
    return redshift.create_cluster(**options)["Cluster"]


def wait_for(redshift, waiter_name: str, identifier: str, goal: str, say,
             delay=30, timeout=45 * 60, sleep=time.sleep) -> None:
    """Wait with boto3's waiter, one check at a time, saying how it goes in between.

    The waiter knows which states are final (a cluster being deleted will
    never become available); checking once per call lets us show progress.
    """
    waiter = redshift.get_waiter(waiter_name)
    started = time.monotonic()
    say(f"waiting for cluster {identifier} to be {goal} (this usually takes 2 to 10 minutes)...")
    while True:
        try:
            waiter.wait(ClusterIdentifier=identifier, WaiterConfig={"Delay": delay, "MaxAttempts": 1})
            say(f"cluster {identifier} is {goal} after {_duration(time.monotonic() - started)}")
            return
        except WaiterError as error:
            reason = str(error.kwargs.get("reason", error))
            if not reason.startswith("Max attempts exceeded"):
                raise ClusterError(f"cluster {identifier} will not be {goal}: {reason}") from None
            waited = time.monotonic() - started
            if waited > timeout:
                raise ClusterError(
                    f"cluster {identifier} is still not {goal} after {_duration(waited)}: "
                    "see `python cluster.py status` or the Redshift console"
                ) from None
            clusters = (error.last_response or {}).get("Clusters") or [{}]
            say(f"  {_duration(waited)}: {clusters[0].get('ClusterStatus', 'not there yet')}")
            sleep(delay)


def delete_cluster(redshift, settings: Settings, say, delay=30, sleep=time.sleep) -> None:
    """Delete the cluster without a final snapshot, and wait until it is gone."""
    cluster = describe_cluster(redshift, settings.identifier)
    if cluster is None:
        say(f"cluster {settings.identifier}: already gone")
        return
    _refuse_unless_ours("cluster", settings.identifier, cluster.get("Tags"), "CLUSTER_IDENTIFIER")
    state = cluster.get("ClusterStatus")
    if state in ("creating", "modifying", "resuming", "rebooting"):
        wait_for(redshift, "cluster_available", settings.identifier, "available", say, delay, sleep=sleep)
    if state != "deleting":
        try:
            redshift.delete_cluster(ClusterIdentifier=settings.identifier, SkipFinalClusterSnapshot=True)
        except ClientError as error:
            if _code(error) != "ClusterNotFound":
                raise
    wait_for(redshift, "cluster_deleted", settings.identifier, "deleted", say, delay, sleep=sleep)


# ---------------------------------------------------------------------------
# The whole lifecycle
# ---------------------------------------------------------------------------


def create(settings: Settings, say=print, find_address=my_address, session=None, delay=30, sleep=time.sleep) -> dict:
    """Role, security group, cluster, ingress; then the endpoint and role ARN into dwh.cfg.

    Returns the cluster's description. Safe to run again: what exists is kept.
    With [DWH] DEPLOYMENT=serverless, a namespace and a workgroup instead.
    """
    if settings.serverless:
        from sparkify.aws import serverless
        return serverless.create(settings, say, find_address, session, delay, sleep)
    refuse_deprecated_node_type(settings)
    password = master_password(settings)
    cidr = ingress_cidr(settings, find_address, say)
    session = session or aws_session(settings)
    try:
        iam, ec2, redshift = (session.client(name) for name in ("iam", "ec2", "redshift"))
        tags = resource_tags(settings, session)
        role_arn = ensure_role(iam, settings, tags)
        say(f"role {settings.role_name}: Redshift may assume it; it reads only {', '.join(settings.sources)}")
        group_id = ensure_security_group(ec2, settings, tags)
        cluster = ensure_cluster(redshift, settings, password, role_arn, group_id,
                                 tags + [{"Key": "time-to-live", "Value": f"{settings.ttl_hours:g}h"}])
        say(f"cluster {settings.identifier}: {cluster['ClusterStatus']}, {describe_nodes(cluster)}, encrypted, "
            f"{hourly_cost_text(cluster['NodeType'], cluster.get('NumberOfNodes', 1))}")
        if cluster.get("ClusterStatus") == "paused":
            redshift.resume_cluster(ClusterIdentifier=settings.identifier)
        wait_for(redshift, "cluster_available", settings.identifier, "available", say, delay, sleep=sleep)
        open_port(ec2, group_id, settings.port, cidr)
        say(f"security group {settings.security_group_name}: port {settings.port} open to {cidr} only")
        cluster = describe_cluster(redshift, settings.identifier)
    except ClientError as error:
        raise ClusterError(aws_message(error).replace(password, "***")) from None
    endpoint = cluster.get("Endpoint") or {}
    update_config(settings.config_path, {
        "CLUSTER": {
            "HOST": endpoint.get("Address", ""),
            "DB_PORT": str(endpoint.get("Port", settings.port)),
            "DB_NAME": cluster.get("DBName", settings.db_name),
            "DB_USER": cluster.get("MasterUsername", settings.db_user),
        },
        "IAM_ROLE": {"ARN": role_arn},
    })
    say(f"wrote the endpoint and the role ARN into {settings.config_path}: "
        "create_tables.py and etl.py now use this cluster")
    return cluster


def refuse_deprecated_node_type(settings: Settings) -> None:
    """A DC2 node type is refused before anything is created, saying what to use instead."""
    if not is_deprecated(settings.node_type):
        return
    instead = default_node_type(settings.nodes)
    raise ClusterError(
        f"[DWH] NODE_TYPE={settings.node_type}: AWS deprecated DC2 nodes in April 2025 in favour of RA3 "
        f"and Redshift Serverless, so cluster.py no longer creates them. Set NODE_TYPE={instead} (the "
        f"smallest RA3 node for {settings.nodes} node(s): {hourly_cost_text(instead, settings.nodes)}), "
        "leave NODE_TYPE empty for that default, or set DEPLOYMENT=serverless"
    )


def teardown(settings: Settings, say=print, session=None, delay=30, sleep=time.sleep) -> None:
    """Close the port, delete the cluster, the security group, the role and its policy.

    Each step does nothing when its resource is already gone, so running it
    twice, or after a create that stopped half-way, succeeds.
    """
    if settings.serverless:
        from sparkify.aws import serverless
        return serverless.teardown(settings, say, session, delay, sleep)
    session = session or aws_session(settings)
    try:
        iam, ec2, redshift = (session.client(name) for name in ("iam", "ec2", "redshift"))
        group_id = close_port(ec2, settings, say)
        delete_cluster(redshift, settings, say, delay, sleep)
        if group_id:
            delete_security_group(ec2, settings, group_id, say, delay=delay, sleep=sleep)
        delete_role(iam, settings, say)
    except ClientError as error:
        raise ClusterError(aws_message(error)) from None
    if settings.config_path.exists():
        update_config(settings.config_path, {"CLUSTER": {"HOST": ""}, "IAM_ROLE": {"ARN": ""}})
        say(f"cleared the endpoint and the role ARN in {settings.config_path}: "
            "the scripts no longer point at the cluster")


# pause and resume on Serverless: nothing to do, and the exit status is 0,
# since what the person wants (no compute billed while idle) already holds.
SERVERLESS_PAUSE = (
    "`{command}` does not apply to Redshift Serverless: workgroup {workgroup} bills compute only while "
    "queries run and pauses itself when idle, and it resumes on the next query; nothing was changed. "
    "If its usage limit turned queries off, raise [DWH] USAGE_LIMIT_RPU_HOURS and run `python cluster.py "
    "create` again, or wait for the next day"
)


def pause(settings: Settings, say=print, session=None) -> None:
    """Pause the cluster: compute stops billing, storage still bills, the data stays."""
    if settings.serverless:
        say(SERVERLESS_PAUSE.format(workgroup=settings.workgroup, command="pause"))
        return
    redshift = (session or aws_session(settings)).client("redshift")
    try:
        cluster = describe_cluster(redshift, settings.identifier)
        if cluster is None:
            raise ClusterError(f"there is no cluster {settings.identifier} to pause")
        _refuse_unless_ours("cluster", settings.identifier, cluster.get("Tags"), "CLUSTER_IDENTIFIER")
        if cluster["ClusterStatus"] == "paused":
            say(f"cluster {settings.identifier} is already paused")
            return
        redshift.pause_cluster(ClusterIdentifier=settings.identifier)
    except ClientError as error:
        raise ClusterError(aws_message(error)) from None
    say(f"cluster {settings.identifier}: pausing; storage still bills. `python cluster.py resume` to go on")


def resume(settings: Settings, say=print, session=None, delay=30, sleep=time.sleep) -> None:
    if settings.serverless:
        say(SERVERLESS_PAUSE.format(workgroup=settings.workgroup, command="resume"))
        return
    redshift = (session or aws_session(settings)).client("redshift")
    try:
        cluster = describe_cluster(redshift, settings.identifier)
        if cluster is None:
            raise ClusterError(f"there is no cluster {settings.identifier} to resume: "
                               "`python cluster.py create` makes one")
        _refuse_unless_ours("cluster", settings.identifier, cluster.get("Tags"), "CLUSTER_IDENTIFIER")
        if cluster["ClusterStatus"] == "paused":
            redshift.resume_cluster(ClusterIdentifier=settings.identifier)
        wait_for(redshift, "cluster_available", settings.identifier, "available", say, delay, sleep=sleep)
    except ClientError as error:
        raise ClusterError(aws_message(error)) from None


# ---------------------------------------------------------------------------
# Status and cost
# ---------------------------------------------------------------------------


def status(settings: Settings, session=None, now=None) -> dict:
    """What exists of the setup, and the warnings a person should see."""
    if settings.serverless:
        from sparkify.aws import serverless
        return serverless.status(settings, session, now)
    session = session or aws_session(settings)
    now = now or datetime.datetime.now(datetime.UTC)
    iam, ec2, redshift = (session.client(name) for name in ("iam", "ec2", "redshift"))
    report = {"cluster": None, "role": None, "security_group": None, "warnings": []}
    try:
        cluster = describe_cluster(redshift, settings.identifier)
        if cluster:
            report["cluster"] = cluster_facts(cluster, now)
            report["warnings"] += cluster_warnings(report["cluster"])
        role_and_group_status(iam, ec2, settings, report)
    except ClientError as error:
        raise ClusterError(aws_message(error)) from None
    return report


def role_and_group_status(iam, ec2, settings: Settings, report: dict) -> None:
    """The role's read policy and the group's ingress into ``report``; both kinds of deployment have them."""
    try:
        iam.get_role(RoleName=settings.role_name)
        policy = iam.get_role_policy(RoleName=settings.role_name, PolicyName=policy_name(settings))
        report["role"] = {"name": settings.role_name, "policy": _as_dict(policy["PolicyDocument"])}
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise
    group = find_security_group(ec2, settings)
    if group:
        report["security_group"] = {"id": group["GroupId"], "name": group["GroupName"],
                                    "ingress": ingress_rules(group)}
        if any(ipaddress.ip_network(cidr).prefixlen == 0 for _, cidr in ingress_rules(group)):
            report["warnings"].append(f"port open to the whole internet in {group['GroupName']}")


def cluster_facts(cluster: dict, now) -> dict:
    tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
    created = _parse_time(tags.get("created-at")) or cluster.get("ClusterCreateTime")
    if isinstance(created, datetime.datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=datetime.UTC)
    ttl = tags.get("time-to-live", "").rstrip("h")
    nodes = cluster.get("NumberOfNodes", 1)
    return {
        "identifier": cluster["ClusterIdentifier"],
        "status": cluster.get("ClusterStatus"),
        "node_type": cluster.get("NodeType"),
        "nodes": nodes,
        "encrypted": cluster.get("Encrypted"),
        "publicly_accessible": cluster.get("PubliclyAccessible"),
        "endpoint": cluster.get("Endpoint"),
        "owner": tags.get("owner"),
        "created_at": created,
        "age_hours": (now - created).total_seconds() / 3600 if created else None,
        "ttl_hours": float(ttl) if ttl.replace(".", "", 1).isdigit() else None,
        "hourly_usd": hourly_cost(cluster.get("NodeType"), nodes),
        "ours": tags.get(MANAGED_BY[0]) == MANAGED_BY[1],
    }


def cluster_warnings(facts: dict) -> list[str]:
    warnings = []
    age, ttl = facts["age_hours"], facts["ttl_hours"]
    if age is not None and ttl is not None and age > ttl and facts["status"] != "paused":
        warnings.append(
            f"cluster {facts['identifier']} has outlived its time-to-live ({ttl:g} h) by "
            f"{_duration((age - ttl) * 3600)} and is still billing: `python cluster.py delete` "
            "(or `pause`) when you are done"
        )
    if not facts["ours"]:
        warnings.append(f"cluster {facts['identifier']} was not made by cluster.py: it will not touch it")
    if is_deprecated(facts["node_type"]):
        warnings.append(
            f"cluster {facts['identifier']} runs on {facts['node_type']} nodes, which AWS deprecated in April "
            f"2025: move it to RA3 ({default_node_type(facts['nodes'])}) or Serverless, or delete it and "
            "create it again with the new default"
        )
    return warnings


def hourly_cost(node_type, nodes) -> float | None:
    price = NODE_HOUR_USD.get(node_type, DEPRECATED_NODE_HOUR_USD.get(node_type))
    return None if price is None else price * nodes


def cost_class(per_hour) -> str:
    if per_hour is None:
        return "unknown"
    return "low" if per_hour < 1 else "moderate" if per_hour < 10 else "high"


def hourly_cost_text(node_type, nodes) -> str:
    per_hour = hourly_cost(node_type, nodes)
    if per_hour is None:
        return f"cost of {node_type} unknown here: see the Redshift pricing page"
    return (f"about ${per_hour:.2f} an hour, ${per_hour * 24:.0f} a day while running "
            f"(cost class {cost_class(per_hour)}; on-demand, US East)")


def describe_nodes(cluster: dict) -> str:
    return f"{cluster.get('NumberOfNodes', 1)} x {cluster.get('NodeType')}"


def cost_text(settings: Settings) -> str:
    """What the deployment ``settings`` describe costs: per node-hour for a cluster, per RPU-hour of
    queries for Serverless, with its usage limit."""
    if settings.serverless:
        from sparkify.aws import serverless

        limit = {"amount": settings.usage_limit_rpu_hours, "period": "daily",
                 "breachAction": settings.usage_limit_action}
        return (f"{serverless.cost_text(settings.base_rpus)}; usage limit "
                f"{serverless.limit_text(limit, settings.base_rpus)}")
    return hourly_cost_text(settings.node_type, settings.nodes)


def with_deployment(settings: Settings, deployment: str | None) -> Settings:
    """``settings`` for ``deployment`` ("provisioned" or "serverless"; None: as the config says)."""
    if not deployment:
        return settings
    deployment = deployment.strip().lower()
    if deployment not in DEPLOYMENTS:
        raise ClusterError(f"the deployment must be provisioned or serverless, not {deployment!r}")
    return replace(settings, deployment=deployment)


def format_status(report: dict) -> str:
    """The status report as lines for a person. No password; the endpoint is shown."""
    lines = []
    facts = report.get("cluster")
    if "workgroup" in report:
        from sparkify.aws import serverless
        lines += serverless.format_lines(report)
    elif facts is None:
        lines.append("cluster: none")
    else:
        endpoint = facts["endpoint"] or {}
        lines.append(f"cluster {facts['identifier']}: {facts['status']}, {facts['nodes']} x {facts['node_type']}, "
                     f"{'encrypted' if facts['encrypted'] else 'NOT encrypted'}, "
                     f"{'publicly accessible' if facts['publicly_accessible'] else 'private to its VPC'}")
        if endpoint:
            lines.append(f"  endpoint  {endpoint.get('Address')}:{endpoint.get('Port')}")
        if facts["created_at"]:
            ttl = f"; time-to-live {facts['ttl_hours']:g} h" if facts["ttl_hours"] is not None else ""
            lines.append(f"  created   {facts['created_at']:%Y-%m-%d %H:%M} UTC by {facts['owner'] or 'unknown'}, "
                         f"{_duration(facts['age_hours'] * 3600)} ago{ttl}")
        lines.append(f"  cost      {hourly_cost_text(facts['node_type'], facts['nodes'])}")
    role = report["role"]
    lines.append(f"role {role['name']}: reads {', '.join(_readable(role['policy']))}" if role else "role: none")
    group = report["security_group"]
    if group:
        opened = ", ".join(f"port {port} from {cidr}" for port, cidr in group["ingress"]) or "nothing open"
        lines.append(f"security group {group['name']}: {opened}")
    else:
        lines.append("security group: none")
    lines += [f"WARNING: {warning}" for warning in report["warnings"]]
    return "\n".join(lines)


def resource_tags(settings: Settings, session) -> list[dict]:
    """Who made it, when, and for which project: on the cluster, the role and the group."""
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"Key": MANAGED_BY[0], "Value": MANAGED_BY[1]},
        {"Key": "project", "Value": "sparkify"},
        {"Key": "owner", "Value": settings.owner or _caller_name(session)},
        {"Key": "created-at", "Value": created},
    ]


def _caller_name(session) -> str:
    """The user or role name of the credentials (not the account id), else the login name."""
    try:
        return session.client("sts").get_caller_identity()["Arn"].rsplit("/", 1)[-1]
    except (ClientError, BotoCoreError):
        return getpass.getuser()


# ---------------------------------------------------------------------------
# Writing back into dwh.cfg
# ---------------------------------------------------------------------------


def update_config(path, values: dict[str, dict[str, str]]) -> None:
    """Set KEY=value in the given sections, keeping every other line and comment.

    A key that is missing is added at the end of its section, a section at
    the end of the file. The file is replaced in one step, keeping its mode.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    pending = {section.upper(): dict(keys) for section, keys in values.items()}
    output, section, section_end = [], None, {}
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().upper()
        elif section in pending and "=" in stripped and not stripped.startswith(("#", ";")):
            key = stripped.split("=", 1)[0].strip()
            match = next((name for name in pending[section] if name.upper() == key.upper()), None)
            if match is not None:
                line = f"{key}={pending[section].pop(match)}"
        output.append(line)
        if section is not None and stripped:
            section_end[section] = len(output)
    for name in sorted(pending, key=lambda name: -section_end.get(name, len(output) + 1)):
        added = [f"{key}={value}" for key, value in pending[name].items()]
        if not added:
            continue
        if name in section_end:
            output[section_end[name]:section_end[name]] = added
        else:
            output += ["", f"[{name}]", *added]
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("\n".join(output) + "\n")
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _ignore_missing(call, **arguments) -> None:
    """Make a delete call, taking "it is not there" as done."""
    try:
        call(**arguments)
    except ClientError as error:
        if _code(error) not in ("NoSuchEntity", "InvalidPermission.NotFound", "InvalidGroup.NotFound"):
            raise


def _refuse_unless_ours(kind, name, tags, setting) -> None:
    tags = {tag["Key"]: tag["Value"] for tag in tags or []}
    if tags.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        raise ClusterError(
            f"{kind} {name} exists but was not made by cluster.py (it has no {MANAGED_BY[0]}={MANAGED_BY[1]} "
            f"tag), so cluster.py leaves it alone: choose another [DWH] {setting}"
        )


def aws_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return (f"AWS refused {error.operation_name}: {details.get('Code', 'error')}: "
            f"{details.get('Message', str(error))}")


def _as_dict(document) -> dict:
    # boto3 decodes policy documents; a server that does not leaves them URL-encoded JSON.
    if isinstance(document, dict):
        return document
    return json.loads(urllib.parse.unquote(document))


def _readable(policy: dict) -> list[str]:
    """The s3:// prefixes a read policy allows GetObject on."""
    resources = []
    for statement in policy.get("Statement", []):
        if statement.get("Action") == "s3:GetObject":
            resources += [f"s3://{resource.removeprefix('arn:aws:s3:::')}" for resource in statement["Resource"]]
    return resources


def _parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="cluster.py",
        description="Create, inspect, pause, resume and delete the Sparkify Redshift warehouse, with an IAM role "
        "that reads only the source in S3 and a security group open to one address. Two kinds: a provisioned "
        "RA3 cluster ([DWH] DEPLOYMENT=provisioned, the default), or Redshift Serverless "
        "([DWH] DEPLOYMENT=serverless: a namespace and a workgroup of BASE_CAPACITY_RPUS, 8 by default, with a "
        "daily usage limit of USAGE_LIMIT_RPU_HOURS as the cost guard). "
        "Settings come from the [DWH] section of dwh.cfg (see dwh.cfg.example).",
        epilog="AWS credentials come from boto3's default chain: AWS_PROFILE, `aws sso login`, or the "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables. The database password comes from "
        f"${PASSWORD_ENV}. Nothing secret is printed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (sparkify) {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file (default: $DWH_CONFIG, else dwh.cfg next to this script)")
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
        settings = read_settings(args.config)
        if args.command == "create":
            create(settings)
        elif args.command == "status":
            print(format_status(status(settings)))
        elif args.command == "pause":
            pause(settings)
        elif args.command == "resume":
            resume(settings)
        elif args.command == "delete":
            what = (f"workgroup {settings.workgroup} and namespace {settings.namespace} with its data"
                    if settings.serverless else f"cluster {settings.identifier} and its data")
            if not args.yes and not confirm(f"Delete {what}, its security group and role {settings.role_name}?"):
                print("Nothing deleted.")
                return 1
            teardown(settings)
        return 0
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NoCredentialsError:
        print("error: no AWS credentials found: run `aws sso login` (or `aws configure`), or set AWS_PROFILE",
              file=sys.stderr)
        return 2
    except NoRegionError:
        print("error: no AWS region: set [DWH] REGION in the config, or AWS_DEFAULT_REGION", file=sys.stderr)
        return 2
    except BotoCoreError as error:
        print(f"error: could not talk to AWS: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: `python cluster.py status` shows what exists; `delete` removes it", file=sys.stderr)
        return 130


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print(f"{question} Not asking without a terminal: add --yes.", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


if __name__ == "__main__":
    sys.exit(main())
