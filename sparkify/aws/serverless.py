"""Redshift Serverless for cluster.py: a namespace (the data, the admin user, the role) and a workgroup (compute).

Chosen with ``[DWH] DEPLOYMENT=serverless``; ``cluster.py`` then creates,
reports and deletes these instead of a provisioned cluster:

- the same IAM role, trusted by Redshift Serverless as well, attached to the
  namespace and made its default IAM role;
- the namespace, whose admin user and database are ``[CLUSTER] DB_USER`` and
  ``DB_NAME``, with the password of ``$DWH_DB_PASSWORD``;
- the workgroup, ``BASE_CAPACITY_RPUS`` (8 by default), in the default VPC's
  subnets, behind the same security group, open to one CIDR (your /32);
- a usage limit on the workgroup as the cost guard: at most
  ``USAGE_LIMIT_RPU_HOURS`` RPU-hours a day, then ``USAGE_LIMIT_ACTION``
  (deactivate: user queries are turned off until the next day; log: only
  recorded).

moto has no redshift-serverless: the tests drive these calls through
botocore's Stubber, which checks each request against the service model.
"""

import re
import time

from botocore.exceptions import ClientError

from sparkify.aws import cluster as common
from sparkify.aws.cluster import ClusterError, Settings

# On-demand price of one RPU-hour in US East (N. Virginia), in USD
# (https://aws.amazon.com/redshift/pricing/). Compute is billed per second,
# with a 60-second minimum, only while queries run ("Billing for Amazon
# Redshift Serverless", https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-billing.html).
RPU_HOUR_USD = 0.375

NOT_FOUND = "ResourceNotFoundException"


# ---------------------------------------------------------------------------
# Reading what exists
# ---------------------------------------------------------------------------


def get_workgroup(client, name) -> dict | None:
    try:
        return client.get_workgroup(workgroupName=name)["workgroup"]
    except ClientError as error:
        if common._code(error) == NOT_FOUND:
            return None
        raise


def get_namespace(client, name) -> dict | None:
    try:
        return client.get_namespace(namespaceName=name)["namespace"]
    except ClientError as error:
        if common._code(error) == NOT_FOUND:
            return None
        raise


def role_arns(namespace: dict) -> dict[str, str]:
    """{role ARN: apply status} of a namespace.

    GetNamespace lists each role as a string: a bare ARN, or (as the service
    answers today) ``IamRole(applyStatus=in-sync, iamRoleArn=arn:aws:iam::...)``.
    """
    roles = {}
    for entry in namespace.get("iamRoles") or []:
        arn = re.search(r"iamRoleArn=([^,)\s]+)", entry)
        status = re.search(r"applyStatus=([^,)\s]+)", entry)
        roles[arn.group(1) if arn else entry.strip()] = status.group(1) if status else "in-sync"
    return roles


def _tags(client, arn) -> list[dict]:
    """The resource's tags in the Key/Value form of the other services."""
    return [{"Key": tag["key"], "Value": tag["value"]}
            for tag in client.list_tags_for_resource(resourceArn=arn).get("tags", [])]


def _serverless_tags(tags) -> list[dict]:
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in tags]


# ---------------------------------------------------------------------------
# Creating
# ---------------------------------------------------------------------------


def ensure_namespace(client, settings: Settings, password: str, role_arn: str, tags) -> dict:
    """Create the namespace with the role attached and default (or keep ours, attaching the role)."""
    namespace = get_namespace(client, settings.namespace)
    if namespace is None:
        return client.create_namespace(
            namespaceName=settings.namespace,
            dbName=settings.db_name,
            adminUsername=settings.db_user,
            adminUserPassword=password,
            iamRoles=[role_arn],
            defaultIamRoleArn=role_arn,
            tags=_serverless_tags(tags),
        )["namespace"]
    common._refuse_unless_ours("namespace", settings.namespace, _tags(client, namespace["namespaceArn"]),
                               "NAMESPACE")
    if namespace.get("status") == "DELETING":
        raise ClusterError(f"namespace {settings.namespace} is being deleted: when `python cluster.py status` "
                           "shows none, create it again")
    roles = role_arns(namespace)
    if role_arn not in roles or namespace.get("defaultIamRoleArn") != role_arn:
        namespace = client.update_namespace(namespaceName=settings.namespace,
                                            iamRoles=sorted(set(roles) | {role_arn}),
                                            defaultIamRoleArn=role_arn)["namespace"]
    return namespace


def default_subnets(ec2) -> list[str]:
    """The subnets of the default VPC, where the security group is."""
    vpc = common.default_vpc(ec2)
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    if not subnets:
        raise ClusterError("the default VPC has no subnet for the workgroup: create the default subnets "
                           "(`aws ec2 create-default-subnet --availability-zone ...`), or pick another [DWH] REGION")
    return sorted(subnet["SubnetId"] for subnet in subnets)


def ensure_workgroup(client, settings: Settings, group_id: str, subnets: list[str], tags) -> dict:
    workgroup = get_workgroup(client, settings.workgroup)
    if workgroup is None:
        return client.create_workgroup(
            workgroupName=settings.workgroup,
            namespaceName=settings.namespace,
            baseCapacity=settings.base_rpus,
            publiclyAccessible=settings.publicly_accessible,
            securityGroupIds=[group_id],
            subnetIds=subnets,
            port=settings.port,
            tags=_serverless_tags(tags),
        )["workgroup"]
    common._refuse_unless_ours("workgroup", settings.workgroup, _tags(client, workgroup["workgroupArn"]),
                               "WORKGROUP")
    if workgroup.get("status") == "DELETING":
        raise ClusterError(f"workgroup {settings.workgroup} is being deleted: when `python cluster.py status` "
                           "shows none, create it again")
    return workgroup


def ensure_usage_limit(client, settings: Settings, workgroup_arn: str) -> dict:
    """One daily RPU-hour limit on the workgroup, of the configured amount and action."""
    limits = client.list_usage_limits(resourceArn=workgroup_arn,
                                      usageType="serverless-compute").get("usageLimits", [])
    daily = [limit for limit in limits if limit.get("period") == "daily"]
    if not daily:
        return client.create_usage_limit(
            resourceArn=workgroup_arn, usageType="serverless-compute", period="daily",
            amount=settings.usage_limit_rpu_hours, breachAction=settings.usage_limit_action,
        )["usageLimit"]
    limit = daily[0]
    if (limit.get("amount"), limit.get("breachAction")) != (settings.usage_limit_rpu_hours,
                                                            settings.usage_limit_action):
        limit = client.update_usage_limit(usageLimitId=limit["usageLimitId"], amount=settings.usage_limit_rpu_hours,
                                          breachAction=settings.usage_limit_action)["usageLimit"]
    return limit


def wait_until(describe, kind: str, name: str, goal: str, say, delay=30, timeout=30 * 60, sleep=time.sleep):
    """Call ``describe()`` until it gives ``goal`` as status (or None when ``goal`` is "gone").

    Redshift Serverless has no boto3 waiter; this polls as one would.
    Returns the last description.
    """
    started = time.monotonic()
    say(f"waiting for {kind} {name} to be {goal.lower()} (this usually takes a few minutes)...")
    while True:
        found = describe()
        state = found.get("status") if found else None
        if (goal == "gone" and found is None) or (found is not None and state == goal):
            say(f"{kind} {name} is {goal.lower()} after {common._duration(time.monotonic() - started)}")
            return found
        if goal != "gone" and (found is None or state == "DELETING"):
            raise ClusterError(f"{kind} {name} will not be {goal.lower()}: it is {state or 'gone'}")
        waited = time.monotonic() - started
        if waited > timeout:
            raise ClusterError(f"{kind} {name} is still not {goal.lower()} after {common._duration(waited)}: "
                               "see `python cluster.py status` or the Redshift Serverless console")
        say(f"  {common._duration(waited)}: {state}")
        sleep(delay)


def create(settings: Settings, say=print, find_address=common.my_address, session=None, delay=30,
           sleep=time.sleep) -> dict:
    """Role, security group, namespace, workgroup, usage limit; then the endpoint into dwh.cfg.

    Returns the workgroup's description. Safe to run again: what exists is kept.
    """
    password = common.master_password(settings)
    cidr = common.ingress_cidr(settings, find_address, say)
    session = session or common.aws_session(settings)
    try:
        iam, ec2, client = (session.client(name) for name in ("iam", "ec2", "redshift-serverless"))
        tags = common.resource_tags(settings, session)
        role_arn = common.ensure_role(iam, settings, tags)
        say(f"role {settings.role_name}: Redshift Serverless may assume it; it reads only "
            f"{', '.join(settings.sources)}")
        group_id = common.ensure_security_group(ec2, settings, tags)
        ensure_namespace(client, settings, password, role_arn,
                         tags + [{"Key": "time-to-live", "Value": f"{settings.ttl_hours:g}h"}])
        say(f"namespace {settings.namespace}: database {settings.db_name}, admin user {settings.db_user}, "
            f"role {settings.role_name} attached and default")
        workgroup = ensure_workgroup(client, settings, group_id, default_subnets(ec2),
                                     tags + [{"Key": "time-to-live", "Value": f"{settings.ttl_hours:g}h"}])
        say(f"workgroup {settings.workgroup}: {workgroup.get('status')}, "
            f"{cost_text(workgroup.get('baseCapacity', settings.base_rpus))}")
        workgroup = wait_until(lambda: get_workgroup(client, settings.workgroup), "workgroup", settings.workgroup,
                               "AVAILABLE", say, delay, sleep=sleep)
        limit = ensure_usage_limit(client, settings, workgroup["workgroupArn"])
        say(f"usage limit: {limit_text(limit, workgroup.get('baseCapacity', settings.base_rpus))}")
        common.open_port(ec2, group_id, settings.port, cidr)
        say(f"security group {settings.security_group_name}: port {settings.port} open to {cidr} only")
    except ClientError as error:
        raise ClusterError(common.aws_message(error).replace(password, "***")) from None
    endpoint = workgroup.get("endpoint") or {}
    common.update_config(settings.config_path, {
        "CLUSTER": {
            "HOST": endpoint.get("address", ""),
            "DB_PORT": str(endpoint.get("port", settings.port)),
            "DB_NAME": settings.db_name,
            "DB_USER": settings.db_user,
        },
        "IAM_ROLE": {"ARN": role_arn},
    })
    say(f"wrote the workgroup's endpoint and the role ARN into {settings.config_path}: "
        "create_tables.py and etl.py now use this workgroup")
    return workgroup


# ---------------------------------------------------------------------------
# Deleting
# ---------------------------------------------------------------------------


def delete_workgroup(client, settings: Settings, say, delay=30, sleep=time.sleep) -> None:
    workgroup = get_workgroup(client, settings.workgroup)
    if workgroup is None:
        say(f"workgroup {settings.workgroup}: already gone")
        return
    common._refuse_unless_ours("workgroup", settings.workgroup, _tags(client, workgroup["workgroupArn"]),
                               "WORKGROUP")
    if workgroup.get("status") != "DELETING":
        if workgroup.get("status") in ("CREATING", "MODIFYING"):
            wait_until(lambda: get_workgroup(client, settings.workgroup), "workgroup", settings.workgroup,
                       "AVAILABLE", say, delay, sleep=sleep)
        try:
            client.delete_workgroup(workgroupName=settings.workgroup)
        except ClientError as error:
            if common._code(error) != NOT_FOUND:
                raise
    wait_until(lambda: get_workgroup(client, settings.workgroup), "workgroup", settings.workgroup, "gone", say,
               delay, sleep=sleep)


def delete_namespace(client, settings: Settings, say, delay=30, sleep=time.sleep) -> None:
    """Delete the namespace (its data, no final snapshot) once no workgroup uses it; wait until gone."""
    namespace = get_namespace(client, settings.namespace)
    if namespace is None:
        say(f"namespace {settings.namespace}: already gone")
        return
    common._refuse_unless_ours("namespace", settings.namespace, _tags(client, namespace["namespaceArn"]),
                               "NAMESPACE")
    if namespace.get("status") != "DELETING":
        try:
            client.delete_namespace(namespaceName=settings.namespace)
        except ClientError as error:
            if common._code(error) != NOT_FOUND:
                raise
    wait_until(lambda: get_namespace(client, settings.namespace), "namespace", settings.namespace, "gone", say,
               delay, sleep=sleep)


def teardown(settings: Settings, say=print, session=None, delay=30, sleep=time.sleep) -> None:
    """Close the port, delete the workgroup, then the namespace, the security group and the role.

    Each step does nothing when its resource is already gone, so running it
    twice, or after a create that stopped half-way, succeeds.
    """
    session = session or common.aws_session(settings)
    try:
        iam, ec2, client = (session.client(name) for name in ("iam", "ec2", "redshift-serverless"))
        group_id = common.close_port(ec2, settings, say)
        delete_workgroup(client, settings, say, delay, sleep)
        delete_namespace(client, settings, say, delay, sleep)
        if group_id:
            common.delete_security_group(ec2, settings, group_id, say, delay=delay, sleep=sleep)
        common.delete_role(iam, settings, say)
    except ClientError as error:
        raise ClusterError(common.aws_message(error)) from None
    if settings.config_path.exists():
        common.update_config(settings.config_path, {"CLUSTER": {"HOST": ""}, "IAM_ROLE": {"ARN": ""}})
        say(f"cleared the endpoint and the role ARN in {settings.config_path}: "
            "the scripts no longer point at the workgroup")


# ---------------------------------------------------------------------------
# Status and cost
# ---------------------------------------------------------------------------


def cost_text(base_rpus: int) -> str:
    per_hour = base_rpus * RPU_HOUR_USD
    return (f"billed per RPU-hour only while queries run (per second, 60 s minimum; nothing while idle): "
            f"about ${per_hour:.2f} an hour of queries at the base capacity of {base_rpus} RPUs "
            f"(${RPU_HOUR_USD} an RPU-hour, on-demand, US East); storage bills apart")


def limit_text(limit: dict | None, base_rpus: int) -> str:
    if not limit:
        return "none: nothing caps what the workgroup can cost"
    amount = limit.get("amount", 0)
    action = {"deactivate": "then user queries are turned off until the next period",
              "log": "then it is only logged", "emit-metric": "then a metric is emitted"}.get(
        limit.get("breachAction"), f"then {limit.get('breachAction')}")
    hours = amount / base_rpus if base_rpus else 0
    return (f"{amount} RPU-hours a {_period(limit.get('period'))} (about ${amount * RPU_HOUR_USD:.2f}, "
            f"{hours:g} h of queries at {base_rpus} RPUs), {action}")


def _period(period) -> str:
    return {"daily": "day", "weekly": "week", "monthly": "month"}.get(period, str(period))


def status(settings: Settings, session=None, now=None) -> dict:
    """What exists: workgroup, namespace, usage limit, role and group, and the warnings."""
    session = session or common.aws_session(settings)
    iam, ec2, client = (session.client(name) for name in ("iam", "ec2", "redshift-serverless"))
    report = {"workgroup": None, "namespace": None, "usage_limit": None, "role": None, "security_group": None,
              "warnings": []}
    try:
        workgroup = get_workgroup(client, settings.workgroup)
        if workgroup:
            report["workgroup"] = workgroup
        namespace = get_namespace(client, settings.namespace)
        if namespace:
            report["namespace"] = namespace
        if workgroup:
            limits = client.list_usage_limits(resourceArn=workgroup["workgroupArn"],
                                              usageType="serverless-compute").get("usageLimits", [])
            report["usage_limit"] = limits[0] if limits else None
            if not limits:
                report["warnings"].append(
                    f"workgroup {settings.workgroup} has no usage limit: nothing caps its cost; "
                    "`python cluster.py create` sets one from [DWH] USAGE_LIMIT_RPU_HOURS")
        common.role_and_group_status(iam, ec2, settings, report)
    except ClientError as error:
        raise ClusterError(common.aws_message(error)) from None
    return report


def format_lines(report: dict) -> list[str]:
    lines = []
    workgroup, namespace = report["workgroup"], report["namespace"]
    if workgroup is None:
        lines.append("workgroup: none")
    else:
        base = workgroup.get("baseCapacity", 8)
        lines.append(f"workgroup {workgroup['workgroupName']}: {workgroup.get('status')}, base capacity {base} RPUs, "
                     f"{'publicly accessible' if workgroup.get('publiclyAccessible') else 'private to its VPC'}, "
                     f"namespace {workgroup.get('namespaceName')}")
        endpoint = workgroup.get("endpoint") or {}
        if endpoint:
            lines.append(f"  endpoint  {endpoint.get('address')}:{endpoint.get('port')}")
        lines.append(f"  cost      {cost_text(base)}")
        lines.append(f"  limit     {limit_text(report['usage_limit'], base)}")
    if namespace is None:
        lines.append("namespace: none")
    else:
        roles = ", ".join(f"{arn.rsplit('/', 1)[-1]} ({state})" for arn, state in role_arns(namespace).items())
        lines.append(f"namespace {namespace['namespaceName']}: {namespace.get('status')}, database "
                     f"{namespace.get('dbName')}, admin {namespace.get('adminUsername')}, roles {roles or 'none'}")
    return lines
