"""A provisioned Redshift cluster for cluster.py (``[DWH] DEPLOYMENT=provisioned``, the default).

An encrypted RA3 cluster of ``NUM_NODES`` nodes, tagged with its owner, its
creation time and a time-to-live, so that ``status`` can say it is still
billing. It bills per node-hour from creation to deletion, used or not;
``pause`` stops the compute bill, storage still bills.
"""

import datetime

from botocore.exceptions import ClientError

from sparkify.aws.clients import error_code
from sparkify.aws.deployment import Deployment
from sparkify.aws.resources import ClusterError, duration, is_ours, refuse_unless_ours

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


class ProvisionedCluster(Deployment):
    name = "provisioned"
    kind = "cluster"
    expect = "2 to 10 minutes"

    @property
    def resource(self) -> str:
        return self.settings.redshift.identifier

    @property
    def node_type(self) -> str:
        return self.provisioning.node_type or default_node_type(self.provisioning.nodes)

    def described(self, redshift=None) -> dict | None:
        try:
            return (redshift or self.client("redshift")).describe_clusters(
                ClusterIdentifier=self.resource)["Clusters"][0]
        except ClientError as error:
            if error_code(error) == "ClusterNotFound":
                return None
            raise

    def state(self, redshift) -> str | None:
        cluster = self.described(redshift)
        return cluster.get("ClusterStatus") if cluster else None

    def wait(self, redshift, goal: str) -> None:
        never = ("deleting",) if goal == "available" else ()
        self.wait_for(lambda: self.state(redshift), self.kind, self.resource, goal, never)

    def ours(self, cluster: dict) -> dict:
        refuse_unless_ours("cluster", self.resource, cluster.get("Tags"), "CLUSTER_IDENTIFIER")
        return cluster

    # ---- create ----

    def check(self) -> None:
        """A DC2 node type is refused before anything is created, saying what to use instead."""
        if not is_deprecated(self.node_type):
            return
        nodes = self.provisioning.nodes
        instead = default_node_type(nodes)
        raise ClusterError(
            f"[DWH] NODE_TYPE={self.node_type}: AWS deprecated DC2 nodes in April 2025 in favour of RA3 "
            f"and Redshift Serverless, so cluster.py no longer creates them. Set NODE_TYPE={instead} (the "
            f"smallest RA3 node for {nodes} node(s): {hourly_cost_text(instead, nodes)}), "
            "leave NODE_TYPE empty for that default, or set DEPLOYMENT=serverless"
        )

    def make(self, ec2, password, role_arn, group_id, tags) -> dict:
        redshift = self.client("redshift")
        cluster = self.ensure_cluster(redshift, password, role_arn, group_id, tags)
        self.say(f"cluster {self.resource}: {cluster['ClusterStatus']}, {cluster.get('NumberOfNodes', 1)} x "
                 f"{cluster.get('NodeType')}, encrypted, "
                 f"{hourly_cost_text(cluster['NodeType'], cluster.get('NumberOfNodes', 1))}")
        if cluster.get("ClusterStatus") == "paused":
            redshift.resume_cluster(ClusterIdentifier=self.resource)
        self.wait(redshift, "available")
        return self.described(redshift)

    def ensure_cluster(self, redshift, password: str, role_arn: str, group_id: str, tags) -> dict:
        """Create the cluster (or keep ours); returns its description."""
        existing = self.described(redshift)
        if existing:
            self.ours(existing)
            if existing.get("ClusterStatus") == "deleting":
                raise ClusterError(f"cluster {self.resource} is being deleted: when `python cluster.py status` "
                                   "shows none, create it again")
            return existing
        nodes = self.provisioning.nodes
        options = {
            "ClusterIdentifier": self.resource,
            "NodeType": self.node_type,
            "ClusterType": "single-node" if nodes == 1 else "multi-node",
            "DBName": self.db_name,
            "MasterUsername": self.db_user,
            "MasterUserPassword": password,
            "Port": self.port,
            "IamRoles": [role_arn],
            "VpcSecurityGroupIds": [group_id],
            "Encrypted": True,
            "PubliclyAccessible": self.provisioning.publicly_accessible,
            "Tags": tags,
        }
        if nodes > 1:
            options["NumberOfNodes"] = nodes
        return redshift.create_cluster(**options)["Cluster"]

    def endpoint(self, cluster: dict) -> dict[str, str]:
        endpoint = cluster.get("Endpoint") or {}
        return {"HOST": endpoint.get("Address", ""), "DB_PORT": str(endpoint.get("Port", self.port)),
                "DB_NAME": cluster.get("DBName", self.db_name), "DB_USER": cluster.get("MasterUsername", self.db_user)}

    # ---- delete, pause, resume ----

    def remove(self) -> None:
        """Delete the cluster without a final snapshot, and wait until it is gone."""
        redshift = self.client("redshift")
        cluster = self.described(redshift)
        if cluster is None:
            self.say(f"cluster {self.resource}: already gone")
            return
        state = self.ours(cluster).get("ClusterStatus")
        if state in ("creating", "modifying", "resuming", "rebooting"):
            self.wait(redshift, "available")
        if state != "deleting":
            try:
                redshift.delete_cluster(ClusterIdentifier=self.resource, SkipFinalClusterSnapshot=True)
            except ClientError as error:
                if error_code(error) != "ClusterNotFound":
                    raise
        self.wait(redshift, "gone")

    def pause(self) -> None:
        """Pause the cluster: compute stops billing, storage still bills, the data stays."""
        with self.aws_errors():
            redshift = self.client("redshift")
            cluster = self.described(redshift)
            if cluster is None:
                raise ClusterError(f"there is no cluster {self.resource} to pause")
            if self.ours(cluster)["ClusterStatus"] == "paused":
                self.say(f"cluster {self.resource} is already paused")
                return
            redshift.pause_cluster(ClusterIdentifier=self.resource)
        self.say(f"cluster {self.resource}: pausing; storage still bills. `python cluster.py resume` to go on")

    def resume(self) -> None:
        with self.aws_errors():
            redshift = self.client("redshift")
            cluster = self.described(redshift)
            if cluster is None:
                raise ClusterError(f"there is no cluster {self.resource} to resume: "
                                   "`python cluster.py create` makes one")
            if self.ours(cluster)["ClusterStatus"] == "paused":
                redshift.resume_cluster(ClusterIdentifier=self.resource)
            self.wait(redshift, "available")

    # ---- status and cost ----

    def describe(self, now=None) -> dict:
        cluster = self.described()
        if cluster is None:
            return {"cluster": None, "warnings": []}
        facts = cluster_facts(cluster, now or datetime.datetime.now(datetime.UTC))
        return {"cluster": facts, "warnings": cluster_warnings(facts)}

    @classmethod
    def format_lines(cls, report: dict) -> list[str]:
        facts = report.get("cluster")
        if facts is None:
            return ["cluster: none"]
        endpoint = facts["endpoint"] or {}
        lines = [f"cluster {facts['identifier']}: {facts['status']}, {facts['nodes']} x {facts['node_type']}, "
                 f"{'encrypted' if facts['encrypted'] else 'NOT encrypted'}, "
                 f"{'publicly accessible' if facts['publicly_accessible'] else 'private to its VPC'}"]
        if endpoint:
            lines.append(f"  endpoint  {endpoint.get('Address')}:{endpoint.get('Port')}")
        if facts["created_at"]:
            ttl = f"; time-to-live {facts['ttl_hours']:g} h" if facts["ttl_hours"] is not None else ""
            lines.append(f"  created   {facts['created_at']:%Y-%m-%d %H:%M} UTC by {facts['owner'] or 'unknown'}, "
                         f"{duration(facts['age_hours'] * 3600)} ago{ttl}")
        lines.append(f"  cost      {hourly_cost_text(facts['node_type'], facts['nodes'])}")
        return lines

    def cost_text(self) -> str:
        return hourly_cost_text(self.node_type, self.provisioning.nodes)


def cluster_facts(cluster: dict, now) -> dict:
    tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
    created = parse_time(tags.get("created-at")) or cluster.get("ClusterCreateTime")
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
        "ours": is_ours(cluster.get("Tags")),
    }


def cluster_warnings(facts: dict) -> list[str]:
    warnings = []
    age, ttl = facts["age_hours"], facts["ttl_hours"]
    if age is not None and ttl is not None and age > ttl and facts["status"] != "paused":
        warnings.append(
            f"cluster {facts['identifier']} has outlived its time-to-live ({ttl:g} h) by "
            f"{duration((age - ttl) * 3600)} and is still billing: `python cluster.py delete` "
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


def parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
