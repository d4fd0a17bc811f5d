"""cluster.py with [DWH] DEPLOYMENT=serverless: a namespace and a workgroup, a usage limit, an idempotent delete.

moto has no redshift-serverless: its calls go through botocore's Stubber,
which checks each request against the service model and answers in order;
IAM and EC2 (the role, the security group) are moto's, as in test_cluster.py.
"""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from helpers import MY_CIDR, PASSWORD

import cluster as cluster_command
from sparkify import config
from sparkify.aws import cluster, network, role, serverless
from sparkify.aws.serverless import ServerlessWorkgroup

ACCOUNT = "123456789012"
REGION = "us-west-2"
WORKGROUP_ARN = f"arn:aws:redshift-serverless:{REGION}:{ACCOUNT}:workgroup/0f1e2d3c-aaaa-bbbb-cccc-111122223333"
NAMESPACE_ARN = f"arn:aws:redshift-serverless:{REGION}:{ACCOUNT}:namespace/9a8b7c6d-aaaa-bbbb-cccc-444455556666"
HOST = f"sparkify.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com"
OURS = [{"key": "managed-by", "value": "sparkify-cluster.py"}, {"key": "project", "value": "sparkify"}]
NOT_FOUND = {"service_error_code": "ResourceNotFoundException", "http_status_code": 400}


def workgroup(status="AVAILABLE", base=8, most=8):
    found = {"workgroupName": "sparkify", "namespaceName": "sparkify", "workgroupArn": WORKGROUP_ARN,
             "status": status, "baseCapacity": base, "publiclyAccessible": True}
    if most is not None:
        found["maxCapacity"] = most
    if status == "AVAILABLE":
        found["endpoint"] = {"address": HOST, "port": 5439}
    return {"workgroup": found}


def namespace(status="AVAILABLE", roles=(), default=None):
    found = {"namespaceName": "sparkify", "namespaceArn": NAMESPACE_ARN, "status": status, "dbName": "dev",
             "adminUsername": "awsuser", "iamRoles": list(roles)}
    if default:
        found["defaultIamRoleArn"] = default
    return {"namespace": found}


def role_arn(name="sparkify-redshift-s3-read"):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.fixture
def stub():
    """A real redshift-serverless client whose answers are scripted; all of them must be used."""
    client = boto3.client("redshift-serverless", region_name=REGION)
    with Stubber(client) as stubber:
        yield stubber
    stubber.assert_no_pending_responses()


@pytest.fixture
def both(aws, stub):  # noqa: F811 (aws is a fixture)
    """moto's IAM and EC2, with the stubbed redshift-serverless client."""
    class Session:
        def client(self, name, **options):
            return stub.client if name == "redshift-serverless" else aws.client(name, **options)

        def __getattr__(self, name):
            return getattr(aws, name)

    return Session()


@pytest.fixture
def serverless_settings(make_settings):  # noqa: F811
    return lambda **dwh: make_settings(DEPLOYMENT="serverless", **dwh)


def create(fake, settings, said=None):
    said = [] if said is None else said
    return cluster.create(settings, say=said.append, session=fake, delay=0, sleep=lambda seconds: None,
                          find_address=lambda: pytest.fail("the address must come from the config"))


def teardown(fake, settings):
    said = []
    cluster.teardown(settings, say=said.append, session=fake, delay=0, sleep=lambda seconds: None)
    return said


# ---------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------


def test_create_makes_a_namespace_with_the_role_and_a_workgroup_behind_the_slash_32_with_a_daily_limit(
        both, stub, serverless_settings):
    settings = serverless_settings()
    role = role_arn()
    stub.add_client_error("get_namespace", expected_params={"namespaceName": "sparkify"}, **NOT_FOUND)
    stub.add_response("create_namespace", namespace(roles=[role], default=role), {
        "namespaceName": "sparkify", "dbName": "dev", "adminUsername": "awsuser", "adminUserPassword": PASSWORD,
        "iamRoles": [role], "defaultIamRoleArn": role, "tags": ANY,
    })
    stub.add_client_error("get_workgroup", expected_params={"workgroupName": "sparkify"}, **NOT_FOUND)
    stub.add_response("create_workgroup", workgroup("CREATING"), {
        "workgroupName": "sparkify", "namespaceName": "sparkify", "baseCapacity": 8, "maxCapacity": 8,
        "publiclyAccessible": True, "securityGroupIds": ANY, "subnetIds": ANY, "port": 5439, "tags": ANY,
    })
    stub.add_response("get_workgroup", workgroup("CREATING"), {"workgroupName": "sparkify"})
    stub.add_response("get_workgroup", workgroup("AVAILABLE"), {"workgroupName": "sparkify"})
    stub.add_response("get_workgroup", workgroup("AVAILABLE"), {"workgroupName": "sparkify"})
    stub.add_response("list_usage_limits", {},
                      {"resourceArn": WORKGROUP_ARN, "usageType": "serverless-compute"})
    stub.add_response("create_usage_limit", {"usageLimit": {"amount": 16, "period": "daily",
                                                            "breachAction": "deactivate"}}, {
        "resourceArn": WORKGROUP_ARN, "usageType": "serverless-compute", "period": "daily", "amount": 16,
        "breachAction": "deactivate",
    })
    said = []
    create(both, settings, said)

    group = network.find_security_group(both.client("ec2"), "sparkify-redshift")
    assert network.ingress_rules(group) == [(5439, MY_CIDR)]
    written = config.load_settings(settings.path)
    assert (written.target.host, written.target.port) == (HOST, 5439)
    assert written.redshift.iam_role == role
    assert PASSWORD not in "\n".join(said) and PASSWORD not in settings.path.read_text()
    assert any("16 RPU-hours a day (about $6.00, 2 h of queries at 8 RPUs), then user queries are turned off"
               in line for line in said)


def test_the_role_is_trusted_by_redshift_serverless_as_the_serverless_docs_ask(both, stub, serverless_settings):
    settings = serverless_settings()
    tags = [{"Key": "managed-by", "Value": "sparkify-cluster.py"}]
    name, sources = settings.aws.provisioning.role_name, role.role_sources(settings)
    role.ensure_role(both.client("iam"), name, sources, ServerlessWorkgroup.trusted_services, tags)
    document = both.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert document["Statement"][0]["Principal"] == {
        "Service": ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]}
    # Switching the deployment back gives the same role exactly the provisioned trust again.
    role.ensure_role(both.client("iam"), name, sources, cluster.DEPLOYMENTS["provisioned"].trusted_services, tags)
    document = both.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert document["Statement"][0]["Principal"] == {"Service": "redshift.amazonaws.com"}


def test_create_again_keeps_what_exists_attaches_the_role_and_sets_the_limit_to_the_config(
        both, stub, serverless_settings):
    settings = serverless_settings(USAGE_LIMIT_RPU_HOURS="24", USAGE_LIMIT_ACTION="log")
    role = role_arn()
    other = role_arn("older")
    stub.add_response("get_namespace", namespace(roles=[f"IamRole(applyStatus=in-sync, iamRoleArn={other})"]))
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": NAMESPACE_ARN})
    stub.add_response("update_namespace", namespace(roles=[other, role], default=role),
                      {"namespaceName": "sparkify", "iamRoles": sorted([other, role]), "defaultIamRoleArn": role})
    stub.add_response("get_workgroup", workgroup())
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": WORKGROUP_ARN})
    stub.add_response("get_workgroup", workgroup())
    stub.add_response("get_workgroup", workgroup())
    stub.add_response("list_usage_limits", {"usageLimits": [
        {"usageLimitId": "limit-1", "amount": 16, "period": "daily", "breachAction": "deactivate"}]})
    stub.add_response("update_usage_limit", {"usageLimit": {"amount": 24, "period": "daily", "breachAction": "log"}},
                      {"usageLimitId": "limit-1", "amount": 24, "breachAction": "log"})
    made = create(both, settings)
    assert made["endpoint"]["address"] == HOST


@pytest.mark.parametrize("dwh, found, updates", [
    pytest.param({}, {"base": 8, "most": None}, [{"maxCapacity": 8}], id="made without a maximum: the base"),
    pytest.param({"MAX_CAPACITY_RPUS": "64"}, {"base": 8, "most": 8}, [{"maxCapacity": 64}], id="a maximum set"),
    pytest.param({"BASE_CAPACITY_RPUS": "4"}, {"base": 8, "most": 8}, [{"baseCapacity": 4}, {"maxCapacity": 4}],
                 id="a smaller base, 4 RPUs: the base first"),
    pytest.param({"BASE_CAPACITY_RPUS": "32"}, {"base": 8, "most": 8}, [{"maxCapacity": 32}, {"baseCapacity": 32}],
                 id="a larger base: the maximum first, never below the base"),
])
def test_create_again_sets_the_capacity_the_config_says_one_parameter_a_request(
        both, stub, serverless_settings, dwh, found, updates):
    """UpdateWorkgroup takes one parameter a request, and the workgroup must be available again in between."""
    settings = serverless_settings(**dwh)
    role = role_arn()
    stub.add_response("get_namespace", namespace(roles=[role], default=role))
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": NAMESPACE_ARN})
    stub.add_response("get_workgroup", workgroup(**found))
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": WORKGROUP_ARN})
    stub.add_response("get_workgroup", workgroup(**found))  # waiting until available
    stub.add_response("get_workgroup", workgroup(**found))  # the capacity it has
    now = dict(found)
    for update in updates:
        stub.add_response("update_workgroup", workgroup("MODIFYING", **now), {"workgroupName": "sparkify", **update})
        now.update({"base": update.get("baseCapacity", now["base"]), "most": update.get("maxCapacity", now["most"])})
        stub.add_response("get_workgroup", workgroup("MODIFYING", **now))
        stub.add_response("get_workgroup", workgroup("AVAILABLE", **now))
        stub.add_response("get_workgroup", workgroup("AVAILABLE", **now))
    stub.add_response("list_usage_limits", {"usageLimits": [
        {"usageLimitId": "limit-1", "amount": 16, "period": "daily", "breachAction": "deactivate"}]})
    said = []
    made = create(both, settings, said)
    assert (made["baseCapacity"], made["maxCapacity"]) == (settings.aws.provisioning.base_rpus,
                                                          settings.aws.provisioning.max_capacity)
    assert len([line for line in said if "capacity set to" in line]) == len(updates)


@pytest.mark.parametrize("call, kind, setting", [("namespace", "namespace", "NAMESPACE"),
                                                  ("workgroup", "workgroup", "WORKGROUP")])
def test_a_namespace_or_workgroup_that_cluster_py_did_not_make_is_left_alone(
        both, stub, serverless_settings, call, kind, setting):
    settings = serverless_settings()
    if call == "namespace":
        stub.add_response("get_namespace", namespace())
    else:
        stub.add_response("get_namespace", namespace(roles=[role_arn()], default=role_arn()))
        stub.add_response("list_tags_for_resource", {"tags": OURS})
        stub.add_response("get_workgroup", workgroup())
    stub.add_response("list_tags_for_resource", {"tags": [{"key": "owner", "value": "someone"}]})
    with pytest.raises(cluster.ClusterError, match=rf"{kind} sparkify exists but was not made by cluster.py.*"
                                                   rf"\[DWH\] {setting}"):
        create(both, settings)


@pytest.mark.parametrize("key, value, message", [
    ("DEPLOYMENT", "cloud", "DEPLOYMENT must be provisioned or serverless, not 'cloud'"),
    ("BASE_CAPACITY_RPUS", "12", "BASE_CAPACITY_RPUS must be 4, or 8 to 512 in steps of 8"),
    ("BASE_CAPACITY_RPUS", "2", "BASE_CAPACITY_RPUS must be 4, or 8 to 512 in steps of 8"),
    ("BASE_CAPACITY_RPUS", "520", "or 512 to 1024 in steps of 32 .*serverless-capacity.html.*, not 520"),
    ("MAX_CAPACITY_RPUS", "4", "MAX_CAPACITY_RPUS must be at least the base capacity, 8, not 4"),
    ("USAGE_LIMIT_RPU_HOURS", "0", "USAGE_LIMIT_RPU_HOURS must be 1 or more"),
    ("USAGE_LIMIT_ACTION", "stop", "USAGE_LIMIT_ACTION must be deactivate or log"),
])
def test_a_wrong_serverless_setting_is_explained(make_settings, key, value, message):  # noqa: F811
    with pytest.raises(config.TargetError, match=message):
        make_settings(**{"DEPLOYMENT": "serverless", key: value})


def test_the_defaults_are_provisioned_and_for_serverless_8_rpus_never_above_with_a_daily_guard(
        make_settings):  # noqa: F811
    settings = make_settings()
    assert settings.redshift.deployment == "provisioned"
    settings = make_settings(DEPLOYMENT="serverless")
    provisioning = settings.aws.provisioning
    assert (settings.redshift.namespace, settings.redshift.workgroup, provisioning.base_rpus) == (
        "sparkify", "sparkify", 8)
    assert provisioning.max_capacity == 8, "a workgroup scales no further than its base unless told"
    assert (provisioning.usage_limit_rpu_hours, provisioning.usage_limit_action) == (16, "deactivate")


# ---------------------------------------------------------------------------
# Status, pause, resume
# ---------------------------------------------------------------------------


def test_status_shows_the_workgroup_its_rpu_hour_cost_and_its_limit(both, stub, serverless_settings):
    settings = serverless_settings()
    stub.add_response("get_workgroup", workgroup())
    stub.add_response("get_namespace", namespace(roles=[f"IamRole(applyStatus=in-sync, iamRoleArn={role_arn()})"]))
    stub.add_response("list_usage_limits", {"usageLimits": [
        {"usageLimitId": "limit-1", "amount": 16, "period": "daily", "breachAction": "deactivate"}]})
    text = cluster.format_status(cluster.status(settings, both))
    assert text.splitlines()[:5] == [
        "workgroup sparkify: AVAILABLE, base capacity 8 RPUs, at most 8 RPUs, publicly accessible, namespace sparkify",
        f"  endpoint  {HOST}:5439",
        "  cost      billed per RPU-hour only while queries run (per second, 60 s minimum; nothing while idle): "
        "about $3.00 an hour of queries at the base capacity of 8 RPUs ($0.375 an RPU-hour, on-demand, US East); "
        "storage bills apart",
        "  limit     16 RPU-hours a day (about $6.00, 2 h of queries at 8 RPUs), then user queries are turned off "
        "until the next period",
        "namespace sparkify: AVAILABLE, database dev, admin awsuser, roles sparkify-redshift-s3-read (in-sync)",
    ]


def test_status_warns_when_nothing_caps_the_cost(both, stub, serverless_settings):
    stub.add_response("get_workgroup", workgroup(most=None))
    stub.add_client_error("get_namespace", **NOT_FOUND)
    stub.add_response("list_usage_limits", {})
    report = cluster.status(serverless_settings(), both)
    assert report["warnings"] == [
        "workgroup sparkify has no usage limit: nothing caps its cost; "
        "`python cluster.py create` sets one from [DWH] USAGE_LIMIT_RPU_HOURS",
        "workgroup sparkify has no maximum capacity: it may scale far above its base before the usage limit stops "
        "it; `python cluster.py create` sets one from [DWH] MAX_CAPACITY_RPUS",
    ]
    assert "base capacity 8 RPUs, no maximum capacity" in cluster.format_status(report)


def test_status_with_nothing_there(both, stub, serverless_settings):
    stub.add_client_error("get_workgroup", **NOT_FOUND)
    stub.add_client_error("get_namespace", **NOT_FOUND)
    text = cluster.format_status(cluster.status(serverless_settings(), both))
    assert text == "workgroup: none\nnamespace: none\nrole: none\nsecurity group: none"


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pause_and_resume_say_plainly_that_they_do_not_apply_and_change_nothing(
        stub, serverless_settings, capsys, command):
    settings = serverless_settings()
    # No stubbed answer: any AWS call would fail the test.
    assert cluster_command.main(["--config", str(settings.path), command]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"`{command}` does not apply to Redshift Serverless: workgroup sparkify bills compute "
                          "only while queries run and pauses itself when idle")


def test_help_offers_serverless(capsys):
    with pytest.raises(SystemExit):
        cluster_command.main(["--help"])
    out = capsys.readouterr().out
    assert "DEPLOYMENT=serverless" in out and "Redshift Serverless" in out


# ---------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------


def test_delete_removes_the_workgroup_then_the_namespace_waiting_for_each_and_twice_is_fine(
        both, stub, serverless_settings):
    settings = serverless_settings()
    tags = [{"Key": "managed-by", "Value": "sparkify-cluster.py"}]
    role.ensure_role(both.client("iam"), "sparkify-redshift-s3-read", role.role_sources(settings),
                     ServerlessWorkgroup.trusted_services, tags)
    group_id = network.ensure_security_group(both.client("ec2"), "sparkify-redshift", tags)
    network.open_port(both.client("ec2"), group_id, 5439, MY_CIDR)

    stub.add_response("get_workgroup", workgroup())
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": WORKGROUP_ARN})
    stub.add_response("delete_workgroup", workgroup("DELETING"), {"workgroupName": "sparkify"})
    stub.add_response("get_workgroup", workgroup("DELETING"))
    stub.add_client_error("get_workgroup", **NOT_FOUND)
    stub.add_response("get_namespace", namespace())
    stub.add_response("list_tags_for_resource", {"tags": OURS}, {"resourceArn": NAMESPACE_ARN})
    stub.add_response("delete_namespace", namespace("DELETING"), {"namespaceName": "sparkify"})
    stub.add_client_error("get_namespace", **NOT_FOUND)
    said = teardown(both, settings)
    order = [line for line in said if line.startswith(("workgroup sparkify is", "namespace sparkify is"))]
    assert [line.split(" after ")[0] for line in order] == ["workgroup sparkify is gone", "namespace sparkify is gone"]
    assert both.client("iam").list_roles()["Roles"] == []
    assert network.find_security_group(both.client("ec2"), "sparkify-redshift") is None
    assert config.load_settings(settings.path).target.host is None

    stub.add_client_error("get_workgroup", **NOT_FOUND)
    stub.add_client_error("get_namespace", **NOT_FOUND)
    again = teardown(both, settings)
    assert [line for line in again if "already gone" in line] == [
        "security group sparkify-redshift: already gone",
        "workgroup sparkify: already gone",
        "namespace sparkify: already gone",
        "role sparkify-redshift-s3-read: already gone",
    ]


def test_namespace_roles_are_read_in_both_forms_the_service_uses():
    found = {"iamRoles": [f"IamRole(applyStatus=adding, iamRoleArn={role_arn('a')})", role_arn("b")]}
    assert serverless.role_arns(found) == {role_arn("a"): "adding", role_arn("b"): "in-sync"}


def test_the_trust_policy_is_valid_json_for_both_kinds():
    for kind in cluster.DEPLOYMENTS.values():
        policy = role.trust_policy(kind.trusted_services)
        assert json.loads(json.dumps(policy))["Statement"][0]["Action"] == "sts:AssumeRole"
