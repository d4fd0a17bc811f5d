"""cluster.py against moto: least privilege, one address, one wait loop, and a teardown that always succeeds."""

import datetime
import json
import subprocess
import sys

import pytest
from botocore.exceptions import EndpointConnectionError
from failure_cases import FAILURES
from helpers import MY_CIDR, PASSWORD, PROJECT_DIR

import cluster as cluster_command
from sparkify import config
from sparkify.aws import clients, cluster, network, provisioned, resources, role
from sparkify.aws.provisioned import ProvisionedCluster


def create(session, settings, said=None, **options):
    """cluster.create without pauses, collecting what it says."""
    said = [] if said is None else said
    options.setdefault("find_address", lambda: pytest.fail("the address must come from the config"))
    return cluster.create(settings, say=said.append, session=session, delay=0, sleep=lambda seconds: None,
                          **options)


def teardown(session, settings, said=None):
    said = [] if said is None else said
    cluster.teardown(settings, say=said.append, session=session, delay=0, sleep=lambda seconds: None)
    return said


def our_group(session, settings):
    return network.find_security_group(session.client("ec2"), settings.aws.provisioning.security_group_name)


# ---------------------------------------------------------------------------
# The role reads the source and nothing else
# ---------------------------------------------------------------------------


def test_the_role_can_be_assumed_only_by_redshift_and_reads_only_the_source(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    iam = aws.client("iam")
    role = iam.get_role(RoleName="sparkify-redshift-s3-read")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow",
        "Principal": {"Service": "redshift.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }]
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == ["sparkify-redshift-s3-read-read-source"]
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="sparkify-redshift-s3-read-read-source")
    allowed = {
        (statement["Action"], json.dumps(statement["Resource"]), json.dumps(statement.get("Condition")))
        for statement in policy["PolicyDocument"]["Statement"]
    }
    assert allowed == {
        ("s3:GetObject", json.dumps([
            "arn:aws:s3:::udacity-dend/log_data/*",
            "arn:aws:s3:::udacity-dend/log_json_path.json*",
            "arn:aws:s3:::udacity-dend/song_data/*",
        ]), "null"),
        ("s3:ListBucket", json.dumps("arn:aws:s3:::udacity-dend"), json.dumps(
            {"StringLike": {"s3:prefix": ["log_data/*", "log_json_path.json*", "song_data/*"]}})),
        ("s3:GetBucketLocation", json.dumps(["arn:aws:s3:::udacity-dend"]), "null"),
    }
    assert all(statement["Effect"] == "Allow" for statement in policy["PolicyDocument"]["Statement"])


def test_the_read_policy_follows_the_configured_buckets_and_prefixes():
    policy = role.read_policy(["s3://events-bucket/logs/2018", "s3://songs-bucket/catalogue"])
    by_action = {}
    for statement in policy["Statement"]:
        by_action.setdefault(statement["Action"], []).append(statement["Resource"])
    assert by_action["s3:GetObject"] == [[
        "arn:aws:s3:::events-bucket/logs/2018*",
        "arn:aws:s3:::songs-bucket/catalogue*",
    ]]
    assert by_action["s3:ListBucket"] == ["arn:aws:s3:::events-bucket", "arn:aws:s3:::songs-bucket"]
    assert "*" not in json.dumps(by_action["s3:ListBucket"])


def test_a_source_that_is_not_in_s3_is_refused():
    with pytest.raises(cluster.ClusterError, match="s3://bucket/prefix"):
        role.read_policy(["/home/me/data"])


# ---------------------------------------------------------------------------
# The port is open to exactly one CIDR
# ---------------------------------------------------------------------------


def test_the_port_is_open_to_exactly_the_configured_cidr(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    assert network.ingress_rules(our_group(aws, settings)) == [(5439, MY_CIDR)]


def test_a_new_address_replaces_the_old_one_instead_of_adding_to_it(aws, make_settings):
    create(aws, make_settings())
    settings = make_settings(INGRESS_CIDR="198.51.100.0/28")
    create(aws, settings)
    assert network.ingress_rules(our_group(aws, settings)) == [(5439, "198.51.100.0/28")]


def test_without_a_cidr_the_callers_own_address_is_used_as_a_slash_32(aws, make_settings):
    settings = make_settings(INGRESS_CIDR="")
    said = []
    create(aws, settings, said, find_address=lambda: "198.51.100.23")
    assert network.ingress_rules(our_group(aws, settings)) == [(5439, "198.51.100.23/32")]
    assert any("198.51.100.23" in line for line in said)


def test_when_the_address_cannot_be_found_nothing_is_created_and_the_person_is_told_what_to_set(aws, make_settings):
    def offline():
        raise OSError("no network")

    with pytest.raises(cluster.ClusterError, match=r"INGRESS_CIDR .*203\.0\.113\.7/32"):
        create(aws, make_settings(INGRESS_CIDR=""), find_address=offline)
    assert aws.client("iam").list_roles()["Roles"] == []


@pytest.mark.parametrize("anyone", ["0.0.0.0/0", "::/0"])
def test_the_whole_internet_is_refused_unless_the_config_says_so(aws, make_settings, anyone):
    with pytest.raises(cluster.ClusterError, match="ALLOW_ANY_ADDRESS=yes"):
        create(aws, make_settings(INGRESS_CIDR=anyone))
    assert aws.client("redshift").describe_clusters()["Clusters"] == []
    assert aws.client("iam").list_roles()["Roles"] == []


def test_the_whole_internet_when_the_config_says_so_comes_with_a_warning(aws, make_settings):
    settings = make_settings(INGRESS_CIDR="0.0.0.0/0", ALLOW_ANY_ADDRESS="yes")
    said = []
    create(aws, settings, said)
    assert network.ingress_rules(our_group(aws, settings)) == [(5439, "0.0.0.0/0")]
    assert any(line.startswith("WARNING: port 5439 will be open to 0.0.0.0/0") for line in said)
    assert any("whole internet" in warning for warning in cluster.status(settings, aws)["warnings"])


def test_a_malformed_cidr_is_explained(make_settings):
    with pytest.raises(config.TargetError, match=r"\[DWH\] INGRESS_CIDR must be an address or a network .*, "
                                                 r"not '203.0.113'"):
        make_settings(INGRESS_CIDR="203.0.113")


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------


def test_the_cluster_is_made_from_the_config_encrypted_and_tagged(aws, make_settings):
    settings = make_settings(NODE_TYPE="ra3.4xlarge", NUM_NODES="2", PUBLICLY_ACCESSIBLE="no",
                             OWNER="alice", TIME_TO_LIVE_HOURS="3")
    create(aws, settings)
    [made] = aws.client("redshift").describe_clusters()["Clusters"]
    assert (made["ClusterIdentifier"], made["NodeType"], made["NumberOfNodes"]) == ("sparkify", "ra3.4xlarge", 2)
    assert (made["DBName"], made["MasterUsername"], made["Endpoint"]["Port"]) == ("dev", "awsuser", 5439)
    assert made["Encrypted"] is True
    assert made["PubliclyAccessible"] is False
    assert [role["IamRoleArn"].rsplit("/", 1)[-1] for role in made["IamRoles"]] == ["sparkify-redshift-s3-read"]
    assert [group["VpcSecurityGroupId"] for group in made["VpcSecurityGroups"]] == [our_group(aws, settings)["GroupId"]]
    tags = {tag["Key"]: tag["Value"] for tag in made["Tags"]}
    assert tags["owner"] == "alice"
    assert tags["time-to-live"] == "3h"
    assert tags["managed-by"] == "sparkify-cluster.py"
    created = datetime.datetime.fromisoformat(tags["created-at"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.UTC) - created) < datetime.timedelta(minutes=5)


def test_the_endpoint_and_role_are_written_into_the_config_keeping_its_comments(aws, make_settings):
    settings = make_settings()
    made = create(aws, settings)
    written = config.load_settings(settings.path)
    assert written.target.host == made["Endpoint"]["Address"]
    assert written.target.port == 5439
    assert written.redshift.iam_role.endswith(":role/sparkify-redshift-s3-read")
    text = settings.path.read_text()
    assert "# Better left empty: set the DWH_DB_PASSWORD environment variable instead." in text
    assert PASSWORD not in text


def test_a_cluster_response_without_a_vpc_is_handled(aws, make_settings):
    """moto, like an EC2-Classic cluster, names no VpcId: the port is opened on our own group."""
    settings = make_settings()
    made = create(aws, settings)
    assert "VpcId" not in made
    assert network.ingress_rules(our_group(aws, settings)) == [(5439, MY_CIDR)]


def test_resume_waits_in_the_one_wait_loop_and_shows_progress(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    redshift = aws.client("redshift")
    redshift.pause_cluster(ClusterIdentifier="sparkify")
    said = []
    # The cluster is paused: the loop's first look finds it paused; it is resumed during the pause.
    deployment = ProvisionedCluster(settings, say=said.append, session=aws, delay=0,
                                    sleep=lambda seconds: redshift.resume_cluster(ClusterIdentifier="sparkify"))
    deployment.wait(deployment.client("redshift"), "available")
    assert said[0] == "waiting for cluster sparkify to be available (this usually takes 2 to 10 minutes)..."
    assert said[1].endswith(": paused")
    assert said[-1].startswith("cluster sparkify is available after")


def test_waiting_gives_up_on_a_state_that_will_never_come(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    aws.client("redshift").pause_cluster(ClusterIdentifier="sparkify")
    deployment = ProvisionedCluster(settings, say=lambda line: None, session=aws, delay=0,
                                    sleep=lambda seconds: None)
    deployment.timeout = -1
    with pytest.raises(cluster.ClusterError, match="still not available after"):
        deployment.wait(deployment.client("redshift"), "available")


@pytest.mark.parametrize("states, goal, outcome", [
    (["creating", "creating", "available"], "available", "cluster c is available after"),
    ([None, "creating", "available"], "available", "cluster c is available after"),  # not listed yet: waited for
    (["creating", "deleting"], "available", "will not be available: it is deleting"),
    (["creating", None], "available", "will not be available: it is gone"),  # it was there, now it is not
    (["deleting", "deleting", None], "gone", "cluster c is gone after"),
])
def test_the_one_wait_loop_knows_which_states_never_lead_to_its_goal(states, goal, outcome):
    looks = iter(states)
    said = []
    try:
        resources.wait_until(lambda: next(looks), "cluster", "c", goal, said.append, never=("deleting",), delay=0,
                             sleep=lambda seconds: None)
        said.append("done")
    except cluster.ClusterError as error:
        said.append(str(error))
    assert outcome in "\n".join(said)


def test_create_while_the_cluster_is_being_deleted_says_to_wait(make_settings, monkeypatch):
    deleting = {"ClusterStatus": "deleting", "Tags": [{"Key": "managed-by", "Value": "sparkify-cluster.py"}]}
    monkeypatch.setattr(ProvisionedCluster, "described", lambda self, redshift=None: deleting)
    with pytest.raises(cluster.ClusterError, match="is being deleted: when `python cluster.py status` shows none"):
        ProvisionedCluster(make_settings()).ensure_cluster(None, PASSWORD, "arn:role", "sg-1", [])


def test_create_twice_keeps_what_exists(aws, make_settings):
    settings = make_settings()
    first = create(aws, settings)
    second = create(aws, settings)
    assert second["Endpoint"] == first["Endpoint"]
    assert len(aws.client("redshift").describe_clusters()["Clusters"]) == 1


def test_the_password_is_never_said_and_a_weak_one_is_explained_without_showing_it(aws, make_settings, monkeypatch):
    settings = make_settings()
    said = []
    create(aws, settings, said)
    said.append(cluster.format_status(cluster.status(settings, aws)))
    teardown(aws, settings, said)
    assert PASSWORD not in "\n".join(said)
    monkeypatch.setenv("DWH_DB_PASSWORD", "short1")
    with pytest.raises(cluster.ClusterError, match="8 to 64 characters") as failure:
        create(aws, make_settings())
    assert "short1" not in str(failure.value)
    monkeypatch.delenv("DWH_DB_PASSWORD")
    with pytest.raises(cluster.ClusterError, match="set the DWH_DB_PASSWORD environment variable"):
        create(aws, make_settings())


# ---------------------------------------------------------------------------
# Status, cost, pause and resume
# ---------------------------------------------------------------------------


def test_status_shows_the_cost_and_warns_past_the_time_to_live(aws, make_settings):
    settings = make_settings(TIME_TO_LIVE_HOURS="4", OWNER="alice")
    create(aws, settings)
    report = cluster.status(settings, aws)
    assert report["warnings"] == []
    assert report["cluster"]["hourly_usd"] == 1.086
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
    report = cluster.status(settings, aws, now=later)
    [warning] = report["warnings"]
    assert warning.startswith("cluster sparkify has outlived its time-to-live (4 h) by 2 h")
    text = cluster.format_status(report)
    assert "about $1.09 an hour, $26 a day while running (cost class moderate" in text
    assert f"port 5439 from {MY_CIDR}" in text
    assert "reads s3://udacity-dend/log_data/*" in text


def test_status_with_nothing_there(aws, make_settings):
    text = cluster.format_status(cluster.status(make_settings(), aws))
    assert text == "cluster: none\nrole: none\nsecurity group: none"


@pytest.mark.parametrize("node_type, nodes, expected", [
    ("ra3.large", 1, "low"), ("ra3.large", 2, "moderate"), ("dc2.large", 1, "low"),
    ("ra3.4xlarge", 2, "moderate"), ("ra3.16xlarge", 1, "high"), ("x9.huge", 1, "unknown"),
])
def test_cost_classes(node_type, nodes, expected):
    assert provisioned.cost_class(provisioned.hourly_cost(node_type, nodes)) == expected


@pytest.mark.parametrize("nodes, expected", [("1", "ra3.xlplus"), ("2", "ra3.large"), ("16", "ra3.large")])
def test_the_default_node_type_is_the_smallest_ra3_node_that_supports_the_cluster_size(make_settings, nodes, expected):
    deployment = ProvisionedCluster(make_settings(NODE_TYPE="", NUM_NODES=nodes))
    assert deployment.node_type == expected
    assert provisioned.hourly_cost(deployment.node_type, int(nodes)) is not None


def test_the_example_config_no_longer_defaults_to_dc2(make_settings):
    assert config.load_settings(PROJECT_DIR / "dwh.cfg.example").aws.provisioning.node_type is None
    assert ProvisionedCluster(make_settings()).node_type == "ra3.xlplus"


@pytest.mark.parametrize("node_type", ["dc2.large", "dc2.8xlarge"])
def test_a_dc2_node_type_is_refused_before_anything_is_created_saying_why_and_what_instead(
        aws, make_settings, node_type):
    with pytest.raises(cluster.ClusterError) as refusal:
        create(aws, make_settings(NODE_TYPE=node_type))
    message = str(refusal.value)
    assert "AWS deprecated DC2 nodes in April 2025" in message
    assert "NODE_TYPE=ra3.xlplus" in message and "DEPLOYMENT=serverless" in message
    assert aws.client("iam").list_roles()["Roles"] == []


def test_status_warns_about_an_existing_dc2_cluster_and_still_prices_it(aws, make_settings):
    redshift = aws.client("redshift")
    redshift.create_cluster(ClusterIdentifier="sparkify", NodeType="dc2.large", ClusterType="single-node",
                            MasterUsername="awsuser", MasterUserPassword=PASSWORD,
                            Tags=[{"Key": "managed-by", "Value": "sparkify-cluster.py"}])
    report = cluster.status(make_settings(), aws)
    assert report["cluster"]["hourly_usd"] == 0.25
    assert any("dc2.large nodes, which AWS deprecated in April 2025" in warning for warning in report["warnings"])


def test_pause_and_resume(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    redshift = aws.client("redshift")
    cluster.pause(settings, say=lambda line: None, session=aws)
    assert redshift.describe_clusters()["Clusters"][0]["ClusterStatus"] == "paused"
    cluster.pause(settings, say=lambda line: None, session=aws)  # again: nothing to do
    cluster.resume(settings, say=lambda line: None, session=aws, delay=0, sleep=lambda seconds: None)
    assert redshift.describe_clusters()["Clusters"][0]["ClusterStatus"] == "available"


# ---------------------------------------------------------------------------
# Teardown
# ---------------------------------------------------------------------------


def nothing_left(session, settings):
    assert session.client("redshift").describe_clusters()["Clusters"] == []
    assert session.client("iam").list_roles()["Roles"] == []
    assert our_group(session, settings) is None


def test_teardown_removes_everything_and_twice_is_fine(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    said = teardown(aws, settings)
    assert said[0] == f"security group sparkify-redshift: port 5439 closed to {MY_CIDR}"
    nothing_left(aws, settings)
    cleared = config.load_settings(settings.path)
    assert cleared.target.host is None and cleared.redshift.iam_role is None
    again = teardown(aws, settings)
    assert [line for line in again if "already gone" in line] == [
        "security group sparkify-redshift: already gone",
        "cluster sparkify: already gone",
        "role sparkify-redshift-s3-read: already gone",
    ]


def test_teardown_of_a_half_created_setup(aws, make_settings):
    """create stopped after the role and the group: teardown still succeeds."""
    settings = make_settings()
    tags = [{"Key": "managed-by", "Value": "sparkify-cluster.py"}]
    role.ensure_role(aws.client("iam"), "sparkify-redshift-s3-read", role.role_sources(settings),
                     ProvisionedCluster.trusted_services, tags)
    network.ensure_security_group(aws.client("ec2"), "sparkify-redshift", tags)
    teardown(aws, settings)
    nothing_left(aws, settings)


def test_teardown_with_nothing_there(aws, make_settings):
    settings = make_settings()
    teardown(aws, settings)
    nothing_left(aws, settings)


def test_a_cluster_that_cluster_py_did_not_make_is_left_alone(aws, make_settings):
    redshift = aws.client("redshift")
    redshift.create_cluster(ClusterIdentifier="sparkify", NodeType="dc2.large", ClusterType="single-node",
                            MasterUsername="someone", MasterUserPassword="Someone1else")
    settings = make_settings()
    with pytest.raises(cluster.ClusterError, match="cluster sparkify exists but was not made by cluster.py"):
        create(aws, settings)
    with pytest.raises(cluster.ClusterError, match="choose another \\[DWH\\] CLUSTER_IDENTIFIER"):
        teardown(aws, settings)
    assert [made["ClusterIdentifier"] for made in redshift.describe_clusters()["Clusters"]] == ["sparkify"]


def test_a_role_that_cluster_py_did_not_make_is_left_alone(aws, make_settings):
    iam = aws.client("iam")
    iam.create_role(RoleName="sparkify-redshift-s3-read", AssumeRolePolicyDocument=json.dumps(role.trust_policy()))
    with pytest.raises(cluster.ClusterError, match="IAM role sparkify-redshift-s3-read exists but was not made"):
        create(aws, make_settings())
    assert iam.list_role_policies(RoleName="sparkify-redshift-s3-read")["PolicyNames"] == []


# ---------------------------------------------------------------------------
# Config and credentials
# ---------------------------------------------------------------------------


def test_settings_need_a_config_with_a_dwh_section_of_its_own(tmp_path, monkeypatch):
    path = tmp_path / "dwh.cfg"
    path.write_text("[CLUSTER]\nHOST=\n")
    with pytest.raises(cluster.ClusterError, match=r"has no \[DWH\] section: copy it from dwh.cfg.example"):
        ProvisionedCluster(config.load_settings(path)).create()
    monkeypatch.setattr(config, "DEFAULT_CONFIG", tmp_path / "missing.cfg")
    monkeypatch.delenv("DWH_CONFIG", raising=False)
    with pytest.raises(cluster.ClusterError, match="no dwh.cfg: copy dwh.cfg.example"):
        ProvisionedCluster(config.load_settings()).create()


def test_keys_in_the_config_are_used_when_set_and_never_shown(make_settings, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    settings = make_settings()
    config.write_keys(settings.path, {"DWH": {"REGION": "eu-west-1"}})
    settings.path.write_text(settings.path.read_text().replace("KEY=\n", "KEY=AKIAEXAMPLEKEY\n")
                             .replace("SECRET=\n", "SECRET=example/secret\n"))
    settings = config.load_settings(settings.path)
    credentials = clients.new_session(settings).get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("AKIAEXAMPLEKEY", "example/secret")
    assert "example/secret" not in repr(settings) and "AKIAEXAMPLEKEY" not in repr(settings)
    made = clients.client("redshift", settings)
    assert made.meta.region_name == "eu-west-1"
    assert made.meta.config.retries == {"total_max_attempts": clients.MAX_ATTEMPTS, "mode": "standard"}


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_help_documents_the_commands():
    result = subprocess.run([sys.executable, "cluster.py", "--help"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True)
    for command in ("create", "status", "pause", "resume", "delete"):
        assert command in result.stdout
    assert "default chain" in result.stdout


def test_delete_without_a_terminal_is_refused_unless_yes(make_settings, capsys, monkeypatch):
    """As create_tables.py on loaded tables: nobody to ask, a refusal (exit status 2), before any AWS call."""
    settings = make_settings()
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))
    failure = FAILURES["`cluster.py delete` off a terminal, without `--yes`"]
    assert cluster_command.main(["--config", str(settings.path), "delete"]) == failure.exit_code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("refused: deleting cluster sparkify and its data") and failure.message in line


def test_the_command_line_creates_reports_and_deletes(aws, make_settings, capsys):
    settings = make_settings()
    options = ["--config", str(settings.path)]
    assert cluster_command.main(options + ["create"]) == 0
    assert cluster_command.main(options + ["status"]) == 0
    assert "cluster sparkify: available, 1 x ra3.xlplus, encrypted" in capsys.readouterr().out
    assert cluster_command.main(options + ["delete", "--yes"]) == 0
    nothing_left(aws, settings)


def test_the_command_line_explains_a_refusal(aws, make_settings, capsys):
    settings = make_settings(INGRESS_CIDR="0.0.0.0/0")
    assert cluster_command.main(["--config", str(settings.path), "create"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "ALLOW_ANY_ADDRESS=yes" in error


@pytest.mark.parametrize("command", ["create", "status", "pause", "resume", "delete"])
def test_aws_out_of_reach_is_a_connection_problem_exit_2_in_one_line(make_settings, capsys, monkeypatch, command):
    """Nothing listens on port 1: every command says so in one line and exits 2, as any connection problem."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DWH_DB_PASSWORD", PASSWORD)
    monkeypatch.setattr(clients, "MAX_ATTEMPTS", 1)
    settings = make_settings()
    yes = ["--yes"] if command == "delete" else []
    assert cluster_command.main(["--config", str(settings.path), command, *yes]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: could not reach AWS") and len(error.strip().splitlines()) == 1, error


def test_an_unreachable_endpoint_error_is_an_aws_unreachable():
    error = clients.unreachable(EndpointConnectionError(endpoint_url="https://redshift.us-west-2.amazonaws.com"))
    assert isinstance(error, config.TargetError) and "could not reach AWS" in str(error)
