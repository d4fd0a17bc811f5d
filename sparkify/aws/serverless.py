"""Redshift Serverless for cluster.py (``[DWH] DEPLOYMENT=serverless``): a namespace and a workgroup.

What ``create`` makes instead of a provisioned cluster:

- the same IAM role, trusted by Redshift Serverless as well, attached to the
  namespace and made its default IAM role;
- the namespace (the data, the admin user, the role), whose admin user and
  database are ``[CLUSTER] DB_USER`` and ``DB_NAME``, with the password of
  ``$DWH_DB_PASSWORD``;
- the workgroup (compute): ``BASE_CAPACITY_RPUS`` (8 by default) and at most
  ``MAX_CAPACITY_RPUS`` (the base capacity by default, so that it never
  scales above what you chose), in the default VPC's subnets, behind the same
  security group, open to one CIDR (your /32);
- a usage limit on the workgroup as the cost guard: at most
  ``USAGE_LIMIT_RPU_HOURS`` RPU-hours a day, then ``USAGE_LIMIT_ACTION``
  (deactivate: user queries are turned off until the next day; log: only
  recorded).

It cannot be paused: it bills compute only while queries run. moto has no
redshift-serverless: the tests drive these calls through botocore's
Stubber, which checks each request against the service model.
"""

import re

from botocore.exceptions import ClientError

from sparkify.aws import network
from sparkify.aws.clients import error_code
from sparkify.aws.deployment import Deployment
from sparkify.aws.resources import ClusterError, refuse_unless_ours

# On-demand price of one RPU-hour in US East (N. Virginia), in USD
# (https://aws.amazon.com/redshift/pricing/). Compute is billed per second,
# with a 60-second minimum, only while queries run ("Billing for Amazon
# Redshift Serverless", https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-billing.html).
RPU_HOUR_USD = 0.375
NOT_FOUND = "ResourceNotFoundException"
NO_PAUSE = (
    "`{command}` does not apply to Redshift Serverless: workgroup {workgroup} bills compute only while "
    "queries run and pauses itself when idle, and it resumes on the next query; nothing was changed. "
    "If its usage limit turned queries off, raise [DWH] USAGE_LIMIT_RPU_HOURS and run `python cluster.py "
    "create` again, or wait for the next day"
)


def get_workgroup(client, name) -> dict | None:
    try:
        return client.get_workgroup(workgroupName=name)["workgroup"]
    except ClientError as error:
        if error_code(error) == NOT_FOUND:
            return None
        raise


def get_namespace(client, name) -> dict | None:
    try:
        return client.get_namespace(namespaceName=name)["namespace"]
    except ClientError as error:
        if error_code(error) == NOT_FOUND:
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


class ServerlessWorkgroup(Deployment):
    name = "serverless"
    kind = "workgroup"
    label = "Redshift Serverless"
    # "Granting permissions to Amazon Redshift Serverless" (Management Guide,
    # https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-security-other-services.html)
    # asks for both principals on a role that Serverless uses.
    trusted_services = ("redshift-serverless.amazonaws.com", "redshift.amazonaws.com")
    timeout = 30 * 60

    @property
    def resource(self) -> str:
        return self.settings.redshift.workgroup

    @property
    def namespace(self) -> str:
        return self.settings.redshift.namespace

    @property
    def holdings(self) -> str:
        return f"workgroup {self.resource} and namespace {self.namespace} with its data"

    def workgroup_state(self, client) -> str | None:
        found = get_workgroup(client, self.resource)
        return found.get("status") if found else None

    def namespace_state(self, client) -> str | None:
        found = get_namespace(client, self.namespace)
        return found.get("status") if found else None

    def ours(self, client, found: dict, kind: str, arn_key: str, setting: str) -> dict:
        refuse_unless_ours(kind, found[f"{kind}Name"], _tags(client, found[arn_key]), setting)
        if found.get("status") == "DELETING":
            raise ClusterError(f"{kind} {found[f'{kind}Name']} is being deleted: when `python cluster.py status` "
                               "shows none, create it again")
        return found

    # ---- create ----

    def make(self, ec2, password, role_arn, group_id, tags) -> dict:
        client = self.client("redshift-serverless")
        self.ensure_namespace(client, password, role_arn, tags)
        self.say(f"namespace {self.namespace}: database {self.db_name}, admin user {self.db_user}, "
                 f"role {self.provisioning.role_name} attached and default")
        workgroup = self.ensure_workgroup(client, group_id, network.default_subnets(ec2), tags)
        self.say(f"workgroup {self.resource}: {workgroup.get('status')}, {capacity_text(workgroup)}; "
                 f"{cost_text(workgroup.get('baseCapacity', self.provisioning.base_rpus))}")
        self.wait_for(lambda: self.workgroup_state(client), "workgroup", self.resource, "available", ("deleting",))
        workgroup = self.ensure_capacity(client)
        limit = self.ensure_usage_limit(client, workgroup["workgroupArn"])
        self.say(f"usage limit: {limit_text(limit, workgroup.get('baseCapacity', self.provisioning.base_rpus))}")
        return workgroup

    def ensure_namespace(self, client, password: str, role_arn: str, tags) -> dict:
        """Create the namespace with the role attached and default (or keep ours, attaching the role)."""
        namespace = get_namespace(client, self.namespace)
        if namespace is None:
            return client.create_namespace(
                namespaceName=self.namespace, dbName=self.db_name, adminUsername=self.db_user,
                adminUserPassword=password, iamRoles=[role_arn], defaultIamRoleArn=role_arn,
                tags=_serverless_tags(tags),
            )["namespace"]
        self.ours(client, namespace, "namespace", "namespaceArn", "NAMESPACE")
        roles = role_arns(namespace)
        if role_arn not in roles or namespace.get("defaultIamRoleArn") != role_arn:
            namespace = client.update_namespace(namespaceName=self.namespace, iamRoles=sorted(set(roles) | {role_arn}),
                                                defaultIamRoleArn=role_arn)["namespace"]
        return namespace

    def ensure_workgroup(self, client, group_id: str, subnets: list[str], tags) -> dict:
        workgroup = get_workgroup(client, self.resource)
        if workgroup is None:
            return client.create_workgroup(
                workgroupName=self.resource, namespaceName=self.namespace,
                baseCapacity=self.provisioning.base_rpus, maxCapacity=self.provisioning.max_capacity,
                publiclyAccessible=self.provisioning.publicly_accessible, securityGroupIds=[group_id],
                subnetIds=subnets, port=self.port, tags=_serverless_tags(tags),
            )["workgroup"]
        return self.ours(client, workgroup, "workgroup", "workgroupArn", "WORKGROUP")

    def ensure_capacity(self, client) -> dict:
        """The workgroup's base and maximum capacity as the config says: a workgroup made before, or by an
        older cluster.py, may have no maximum (it then scales to what AWS allows).

        UpdateWorkgroup changes one parameter a request, so each goes on its
        own, the workgroup available again in between; the maximum first when
        the new base is above it, so that the maximum is never below the base.
        """
        workgroup = get_workgroup(client, self.resource)
        base, most = self.provisioning.base_rpus, self.provisioning.max_capacity
        order = ("maxCapacity", "baseCapacity") if base > (workgroup.get("maxCapacity") or base) else (
            "baseCapacity", "maxCapacity")
        for key in order:
            wanted = {"baseCapacity": base, "maxCapacity": most}[key]
            if workgroup.get(key) == wanted:
                continue
            client.update_workgroup(workgroupName=self.resource, **{key: wanted})
            self.say(f"workgroup {self.resource}: {'base' if key == 'baseCapacity' else 'maximum'} capacity set "
                     f"to {wanted} RPUs, as [DWH] {'BASE' if key == 'baseCapacity' else 'MAX'}_CAPACITY_RPUS says")
            self.wait_for(lambda: self.workgroup_state(client), "workgroup", self.resource, "available",
                          ("deleting",))
            workgroup = get_workgroup(client, self.resource)
        return workgroup

    def ensure_usage_limit(self, client, workgroup_arn: str) -> dict:
        """One daily RPU-hour limit on the workgroup, of the configured amount and action."""
        amount, action = self.provisioning.usage_limit_rpu_hours, self.provisioning.usage_limit_action
        limits = client.list_usage_limits(resourceArn=workgroup_arn,
                                          usageType="serverless-compute").get("usageLimits", [])
        daily = [limit for limit in limits if limit.get("period") == "daily"]
        if not daily:
            return client.create_usage_limit(resourceArn=workgroup_arn, usageType="serverless-compute",
                                             period="daily", amount=amount, breachAction=action)["usageLimit"]
        limit = daily[0]
        if (limit.get("amount"), limit.get("breachAction")) != (amount, action):
            limit = client.update_usage_limit(usageLimitId=limit["usageLimitId"], amount=amount,
                                              breachAction=action)["usageLimit"]
        return limit

    def endpoint(self, workgroup: dict) -> dict[str, str]:
        endpoint = workgroup.get("endpoint") or {}
        return {"HOST": endpoint.get("address", ""), "DB_PORT": str(endpoint.get("port", self.port)),
                "DB_NAME": self.db_name, "DB_USER": self.db_user}

    # ---- delete; no pause ----

    def remove(self) -> None:
        """Delete the workgroup, then the namespace (its data, no final snapshot), waiting for each."""
        client = self.client("redshift-serverless")
        self.delete(client, "workgroup", self.resource, get_workgroup, client.delete_workgroup, "WORKGROUP",
                    lambda: self.workgroup_state(client))
        self.delete(client, "namespace", self.namespace, get_namespace, client.delete_namespace, "NAMESPACE",
                    lambda: self.namespace_state(client))

    def delete(self, client, kind, name, get, delete, setting, state) -> None:
        found = get(client, name)
        if found is None:
            self.say(f"{kind} {name}: already gone")
            return
        refuse_unless_ours(kind, name, _tags(client, found[f"{kind}Arn"]), setting)
        if found.get("status") in ("CREATING", "MODIFYING"):
            self.wait_for(state, kind, name, "available", ("deleting",))
        if found.get("status") != "DELETING":
            try:
                delete(**{f"{kind}Name": name})
            except ClientError as error:
                if error_code(error) != NOT_FOUND:
                    raise
        self.wait_for(state, kind, name, "gone")

    def pause(self) -> None:
        self.say(NO_PAUSE.format(workgroup=self.resource, command="pause"))

    def resume(self) -> None:
        self.say(NO_PAUSE.format(workgroup=self.resource, command="resume"))

    # ---- status and cost ----

    def describe(self, now=None) -> dict:
        client = self.client("redshift-serverless")
        report = {"workgroup": get_workgroup(client, self.resource), "namespace": get_namespace(client, self.namespace),
                  "usage_limit": None, "warnings": []}
        workgroup = report["workgroup"]
        if workgroup:
            limits = client.list_usage_limits(resourceArn=workgroup["workgroupArn"],
                                              usageType="serverless-compute").get("usageLimits", [])
            report["usage_limit"] = limits[0] if limits else None
            if not limits:
                report["warnings"].append(
                    f"workgroup {self.resource} has no usage limit: nothing caps its cost; "
                    "`python cluster.py create` sets one from [DWH] USAGE_LIMIT_RPU_HOURS")
            if workgroup.get("maxCapacity") is None:
                report["warnings"].append(
                    f"workgroup {self.resource} has no maximum capacity: it may scale far above its base before the "
                    "usage limit stops it; `python cluster.py create` sets one from [DWH] MAX_CAPACITY_RPUS")
        return report

    @classmethod
    def format_lines(cls, report: dict) -> list[str]:
        lines = []
        workgroup, namespace = report["workgroup"], report["namespace"]
        if workgroup is None:
            lines.append("workgroup: none")
        else:
            base = workgroup.get("baseCapacity", 8)
            lines.append(f"workgroup {workgroup['workgroupName']}: {workgroup.get('status')}, "
                         f"{capacity_text(workgroup)}, "
                         f"{'publicly accessible' if workgroup.get('publiclyAccessible') else 'private to its VPC'}, "
                         f"namespace {workgroup.get('namespaceName')}")
            endpoint = workgroup.get("endpoint") or {}
            if endpoint:
                lines.append(f"  endpoint  {endpoint.get('address')}:{endpoint.get('port')}")
            lines.append(f"  cost      {cost_text(base, workgroup.get('maxCapacity'))}")
            lines.append(f"  limit     {limit_text(report['usage_limit'], base)}")
        if namespace is None:
            lines.append("namespace: none")
        else:
            roles = ", ".join(f"{arn.rsplit('/', 1)[-1]} ({state})" for arn, state in role_arns(namespace).items())
            lines.append(f"namespace {namespace['namespaceName']}: {namespace.get('status')}, database "
                         f"{namespace.get('dbName')}, admin {namespace.get('adminUsername')}, roles {roles or 'none'}")
        return lines

    def cost_text(self) -> str:
        provisioning = self.provisioning
        limit = {"amount": provisioning.usage_limit_rpu_hours, "period": "daily",
                 "breachAction": provisioning.usage_limit_action}
        return (f"{cost_text(provisioning.base_rpus, provisioning.max_capacity)}; usage limit "
                f"{limit_text(limit, provisioning.base_rpus)}")


def capacity_text(workgroup: dict) -> str:
    base, most = workgroup.get("baseCapacity", 8), workgroup.get("maxCapacity")
    return f"base capacity {base} RPUs, " + (f"at most {most} RPUs" if most else "no maximum capacity")


def cost_text(base_rpus: int, max_rpus: int | None = None) -> str:
    per_hour = base_rpus * RPU_HOUR_USD
    most = (f", at most ${max_rpus * RPU_HOUR_USD:.2f} an hour at its maximum of {max_rpus} RPUs"
            if max_rpus and max_rpus != base_rpus else "")
    return (f"billed per RPU-hour only while queries run (per second, 60 s minimum; nothing while idle): "
            f"about ${per_hour:.2f} an hour of queries at the base capacity of {base_rpus} RPUs{most} "
            f"(${RPU_HOUR_USD} an RPU-hour, on-demand, US East); storage bills apart")


def limit_text(limit: dict | None, base_rpus: int) -> str:
    if not limit:
        return "none: nothing caps what the workgroup can cost"
    amount = limit.get("amount", 0)
    action = {"deactivate": "then user queries are turned off until the next period",
              "log": "then it is only logged", "emit-metric": "then a metric is emitted"}.get(
        limit.get("breachAction"), f"then {limit.get('breachAction')}")
    hours = amount / base_rpus if base_rpus else 0
    period = {"daily": "day", "weekly": "week", "monthly": "month"}.get(limit.get("period"), str(limit.get("period")))
    return (f"{amount} RPU-hours a {period} (about ${amount * RPU_HOUR_USD:.2f}, "
            f"{hours:g} h of queries at {base_rpus} RPUs), {action}")
