"""The security group: the warehouse's port, open to one CIDR, in the region's default VPC.

The CIDR is ``[DWH] INGRESS_CIDR``, or this machine's public address as a
/32. A network of every address (``0.0.0.0/0``, ``::/0``) is refused unless
``ALLOW_ANY_ADDRESS=yes``, and then comes with a warning.
"""

import ipaddress
import time
import urllib.request

from botocore.exceptions import ClientError

from sparkify.aws.clients import error_code
from sparkify.aws.resources import ClusterError, ignore_missing, refuse_unless_ours

ADDRESS_LOOKUP = "https://checkip.amazonaws.com"
RULE_DESCRIPTION = "sparkify cluster.py"


def my_address(timeout=5) -> str:
    """This machine's public IP address, as the internet sees it."""
    with urllib.request.urlopen(ADDRESS_LOOKUP, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return response.read(64).decode("ascii").strip()


def ingress_cidr(provisioning, port: int, where: str, find_address=my_address, say=print) -> str:
    """The one CIDR allowed in: the config's, or this machine's address as a /32.

    ``where``: the config file, to say where INGRESS_CIDR is set.
    """
    where = f"INGRESS_CIDR in the [DWH] section of {where}"
    text = provisioning.ingress_cidr
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
    network = ipaddress.ip_network(text, strict=False)
    if network.prefixlen == 0:
        if not provisioning.allow_any_address:
            raise ClusterError(
                f"{where} is {network}: that lets the whole internet try to log in to the warehouse. "
                "Give your own address (e.g. 203.0.113.7/32), or set [DWH] ALLOW_ANY_ADDRESS=yes "
                "if you really mean it"
            )
        say(f"WARNING: port {port} will be open to {network}, the whole internet "
            "(ALLOW_ANY_ADDRESS=yes): only the password protects the warehouse")
    return str(network)


def default_vpc(ec2) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ClusterError(
            "this region has no default VPC for the warehouse: create one with "
            "`aws ec2 create-default-vpc`, or pick another [DWH] REGION"
        )
    return vpcs[0]["VpcId"]


def default_subnets(ec2) -> list[str]:
    """The subnets of the default VPC, where the security group is."""
    vpc = default_vpc(ec2)
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    if not subnets:
        raise ClusterError("the default VPC has no subnet for the workgroup: create the default subnets "
                           "(`aws ec2 create-default-subnet --availability-zone ...`), or pick another [DWH] REGION")
    return sorted(subnet["SubnetId"] for subnet in subnets)


def find_security_group(ec2, name: str) -> dict | None:
    """Our group of that name, or None; a group of that name that is not ours is refused."""
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    for group in groups:
        refuse_unless_ours("security group", name, group.get("Tags"), "SECURITY_GROUP_NAME")
    return groups[0] if groups else None


def ensure_security_group(ec2, name: str, tags) -> str:
    group = find_security_group(ec2, name)
    if group:
        return group["GroupId"]
    return ec2.create_security_group(
        GroupName=name,
        Description="Sparkify Redshift: the warehouse port, from one address (cluster.py)",
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
            ignore_missing(ec2.revoke_security_group_ingress, GroupId=group_id,
                           IpPermissions=[_permission(rule[0], rule[1], None)])
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(port, cidr)])
    except ClientError as error:
        if error_code(error) != "InvalidPermission.Duplicate":
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


def close_port(ec2, name: str, say) -> str | None:
    """Revoke every ingress rule of our group; return the group's id, or None when it is gone."""
    group = find_security_group(ec2, name)
    if group is None:
        say(f"security group {name}: already gone")
        return None
    for port, cidr in ingress_rules(group):
        ignore_missing(ec2.revoke_security_group_ingress, GroupId=group["GroupId"],
                       IpPermissions=[_permission(port, cidr, None)])
        say(f"security group {name}: port {port} closed to {cidr}")
    return group["GroupId"]


def delete_security_group(ec2, name: str, group_id, say, attempts=10, delay=30, sleep=time.sleep):
    """Delete the group; its network interfaces can outlive the warehouse by a minute, so retry."""
    for attempt in range(1, attempts + 1):
        try:
            ec2.delete_security_group(GroupId=group_id)
            say(f"security group {name}: deleted")
            return
        except ClientError as error:
            if error_code(error) == "InvalidGroup.NotFound":
                return
            if error_code(error) != "DependencyViolation" or attempt == attempts:
                raise
            say(f"security group {name}: still in use, retrying in {delay} s")
            sleep(delay)


def group_status(ec2, name: str) -> tuple[dict | None, list[str]]:
    """({id, name, ingress} of our group or None, warnings)."""
    group = find_security_group(ec2, name)
    if not group:
        return None, []
    rules = ingress_rules(group)
    open_to_all = any(ipaddress.ip_network(cidr).prefixlen == 0 for _, cidr in rules)
    warnings = [f"port open to the whole internet in {group['GroupName']}"] if open_to_all else []
    return {"id": group["GroupId"], "name": group["GroupName"], "ingress": rules}, warnings
