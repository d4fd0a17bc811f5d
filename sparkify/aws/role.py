"""The IAM role the warehouse reads S3 with: only Redshift may assume it, and it reads only the source.

Its one inline policy allows ``s3:GetObject`` below each prefix of the
``[S3]`` section (LOG_DATA, SONG_DATA, the JSONPaths file and, for daily
runs, MANIFEST_PREFIX), ``s3:ListBucket`` of those prefixes only, and
``s3:GetBucketLocation`` so that COPY can find the region: nothing else.
"""

import json
import urllib.parse

from botocore.exceptions import ClientError

from sparkify.aws.clients import error_code
from sparkify.aws.resources import ClusterError, ignore_missing, refuse_unless_ours
from sparkify.config import Settings


def role_sources(settings: Settings) -> tuple[str, ...]:
    """The s3:// prefixes the role may read: the source, and where a daily run's manifests go."""
    source = settings.source
    return tuple(url for url in (source.log_data, source.log_jsonpath, source.song_data, source.manifest_prefix)
                 if url)


def s3_locations(sources) -> list[tuple[str, str]]:
    """(bucket, key prefix) for each s3:// URI of the source."""
    locations = []
    for uri in sources:
        if not uri.startswith("s3://") or len(uri) <= len("s3://"):
            raise ClusterError(f"[S3] paths must look like s3://bucket/prefix, not {uri!r}")
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        locations.append((bucket, prefix))
    return locations


def trust_policy(services=("redshift.amazonaws.com",)) -> dict:
    """Who may assume the role: the Redshift service principals ``services``."""
    services = list(services)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": services[0] if len(services) == 1 else services},
            "Action": "sts:AssumeRole",
        }],
    }


def read_policy(sources) -> dict:
    """Read the objects under each source prefix, list only those prefixes: nothing else.

    A prefix is matched as COPY matches it (``log_data/`` covers
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


def policy_name(role_name: str) -> str:
    return f"{role_name}-read-source"


def ensure_role(iam, role_name: str, sources, services, tags) -> str:
    """Create the role (or keep ours), trusted by exactly ``services``, with exactly the read policy; its ARN."""
    try:
        role = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(services)),
            Description="Lets the Sparkify Redshift warehouse read its source in S3 (cluster.py)",
            Tags=tags,
        )["Role"]
    except ClientError as error:
        if error_code(error) != "EntityAlreadyExists":
            raise
        role = iam.get_role(RoleName=role_name)["Role"]
        refuse_unless_ours("IAM role", role_name, role_tags(iam, role), "IAM_ROLE_NAME")
        # The same role may have been made for the other deployment: trust exactly this one's principals.
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust_policy(services)))
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name(role_name),
                        PolicyDocument=json.dumps(read_policy(sources)))
    iam.get_waiter("role_exists").wait(RoleName=role_name)
    return role["Arn"]


def delete_role(iam, role_name: str, say) -> None:
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        say(f"role {role_name}: already gone")
        return
    refuse_unless_ours("IAM role", role_name, role_tags(iam, role), "IAM_ROLE_NAME")
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        ignore_missing(iam.delete_role_policy, RoleName=role_name, PolicyName=name)
    for policy in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        ignore_missing(iam.detach_role_policy, RoleName=role_name, PolicyArn=policy["PolicyArn"])
    ignore_missing(iam.delete_role, RoleName=role_name)
    say(f"role {role_name}: deleted, with its policy")


def role_tags(iam, role):
    # get_role returns the tags on AWS; list_role_tags is the documented way.
    return role.get("Tags") or iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])


def role_status(iam, role_name: str) -> dict | None:
    """{name, policy} of the role, or None when there is none."""
    try:
        iam.get_role(RoleName=role_name)
        policy = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name(role_name))
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return None
    return {"name": role_name, "policy": as_dict(policy["PolicyDocument"])}


def as_dict(document) -> dict:
    # boto3 decodes policy documents; a server that does not leaves them URL-encoded JSON.
    if isinstance(document, dict):
        return document
    return json.loads(urllib.parse.unquote(document))


def readable(policy: dict) -> list[str]:
    """The s3:// prefixes a read policy allows GetObject on."""
    resources = []
    for statement in policy.get("Statement", []):
        if statement.get("Action") == "s3:GetObject":
            resources += [f"s3://{resource.removeprefix('arn:aws:s3:::')}" for resource in statement["Resource"]]
    return resources
