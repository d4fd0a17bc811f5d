"""cluster.py against moto: least privilege, one address, a waiter, and a teardown that always succeeds."""

import datetime
import json
import subprocess
import sys

import botocore.waiter
import pytest
from helpers import MY_CIDR, PASSWORD, PROJECT_DIR

from sparkify.aws import cluster
from sparkify.config import read_config


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
    return cluster.find_security_group(session.client("ec2"), settings)


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
            "arn:aws:s3:::udacity-dend/log_data*",
            "arn:aws:s3:::udacity-dend/log_json_path.json*",
            "arn:aws:s3:::udacity-dend/song_data*",
        ]), "null"),
        ("s3:ListBucket", json.dumps("arn:aws:s3:::udacity-dend"), json.dumps(
            {"StringLike": {"s3:prefix": ["log_data*", "log_json_path.json*", "song_data*"]}})),
        ("s3:GetBucketLocation", json.dumps(["arn:aws:s3:::udacity-dend"]), "null"),
    }
    assert all(statement["Effect"] == "Allow" for statement in policy["PolicyDocument"]["Statement"])


def test_the_read_policy_follows_the_configured_buckets_and_prefixes():
    policy = cluster.read_policy(["s3://events-bucket/logs/2018", "s3://songs-bucket/catalogue"])
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
        cluster.read_policy(["/home/me/data"])


# ---------------------------------------------------------------------------
# The port is open to exactly one CIDR
# ---------------------------------------------------------------------------


def test_the_port_is_open_to_exactly_the_configured_cidr(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    assert cluster.ingress_rules(our_group(aws, settings)) == [(5439, MY_CIDR)]


def test_a_new_address_replaces_the_old_one_instead_of_adding_to_it(aws, make_settings):
    create(aws, make_settings())
    settings = make_settings(INGRESS_CIDR="198.51.100.0/28")
    create(aws, settings)
    assert cluster.ingress_rules(our_group(aws, settings)) == [(5439, "198.51.100.0/28")]


def test_without_a_cidr_the_callers_own_address_is_used_as_a_slash_32(aws, make_settings):
    settings = make_settings(INGRESS_CIDR="")
    said = []
    create(aws, settings, said, find_address=lambda: "198.51.100.23")
    assert cluster.ingress_rules(our_group(aws, settings)) == [(5439, "198.51.100.23/32")]
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
    assert cluster.ingress_rules(our_group(aws, settings)) == [(5439, "0.0.0.0/0")]
    assert any(line.startswith("WARNING: port 5439 will be open to 0.0.0.0/0") for line in said)
    assert any("whole internet" in warning for warning in cluster.status(settings, aws)["warnings"])


def test_a_malformed_cidr_is_explained(make_settings):
    with pytest.raises(cluster.ClusterError, match="not an address or network: '203.0.113'"):
        cluster.ingress_cidr(make_settings(INGRESS_CIDR="203.0.113"))


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
    config = read_config(settings.config_path)
    assert config["CLUSTER"]["HOST"] == made["Endpoint"]["Address"]
    assert config["CLUSTER"]["DB_PORT"] == "5439"
    assert config["IAM_ROLE"]["ARN"].endswith(":role/sparkify-redshift-s3-read")
    text = settings.config_path.read_text()
    assert "# Better left empty: set the DWH_DB_PASSWORD environment variable instead." in text
    assert PASSWORD not in text


def test_a_cluster_response_without_a_vpc_is_handled(aws, make_settings):
    """moto, like an EC2-Classic cluster, names no VpcId: the port is opened on our own group."""
    settings = make_settings()
    made = create(aws, settings)
    assert "VpcId" not in made
    assert cluster.ingress_rules(our_group(aws, settings)) == [(5439, MY_CIDR)]


def test_create_waits_with_boto3s_waiter_and_shows_progress(aws, make_settings, monkeypatch):
    settings = make_settings()
    create(aws, settings)
    redshift = aws.client("redshift")
    redshift.pause_cluster(ClusterIdentifier="sparkify")
    waited = []
    real_wait = botocore.waiter.Waiter.wait

    def spy(waiter, **arguments):
        waited.append((waiter.name, arguments["ClusterIdentifier"]))
        return real_wait(waiter, **arguments)

    monkeypatch.setattr(botocore.waiter.Waiter, "wait", spy)
    said = []
    # The cluster is paused: the waiter's first check fails; it is resumed during the pause.
    cluster.wait_for(redshift, "cluster_available", "sparkify", "available", said.append, delay=0,
                     sleep=lambda seconds: redshift.resume_cluster(ClusterIdentifier="sparkify"))
    assert waited == [("ClusterAvailable", "sparkify"), ("ClusterAvailable", "sparkify")]
    assert said[1].endswith(": paused")
    assert said[-1].startswith("cluster sparkify is available after")


def test_waiting_gives_up_on_a_state_that_will_never_come(aws, make_settings):
    settings = make_settings()
    create(aws, settings)
    redshift = aws.client("redshift")
    redshift.pause_cluster(ClusterIdentifier="sparkify")
    with pytest.raises(cluster.ClusterError, match="still not available after"):
        cluster.wait_for(redshift, "cluster_available", "sparkify", "available", lambda line: None,
                         delay=0, timeout=-1, sleep=lambda seconds: None)


def test_create_while_the_cluster_is_being_deleted_says_to_wait(make_settings, monkeypatch):
    deleting = {"ClusterStatus": "deleting", "Tags": [{"Key": "managed-by", "Value": "sparkify-cluster.py"}]}
    monkeypatch.setattr(cluster, "describe_cluster", lambda redshift, identifier: deleting)
    with pytest.raises(cluster.ClusterError, match="is being deleted: when `python cluster.py status` shows none"):
        cluster.ensure_cluster(None, make_settings(), PASSWORD, "arn:role", "sg-1", [])


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
        create(aws, settings)
    assert "short1" not in str(failure.value)
    monkeypatch.delenv("DWH_DB_PASSWORD")
    with pytest.raises(cluster.ClusterError, match="set the DWH_DB_PASSWORD environment variable"):
        create(aws, settings)


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
    assert "reads s3://udacity-dend/log_data*" in text


def test_status_with_nothing_there(aws, make_settings):
    text = cluster.format_status(cluster.status(make_settings(), aws))
    assert text == "cluster: none\nrole: none\nsecurity group: none"


@pytest.mark.parametrize("node_type, nodes, expected", [
    ("ra3.large", 1, "low"), ("ra3.large", 2, "moderate"), ("dc2.large", 1, "low"),
    ("ra3.4xlarge", 2, "moderate"), ("ra3.16xlarge", 1, "high"), ("x9.huge", 1, "unknown"),
])
def test_cost_classes(node_type, nodes, expected):
    assert cluster.cost_class(cluster.hourly_cost(node_type, nodes)) == expected


@pytest.mark.parametrize("nodes, expected", [("1", "ra3.xlplus"), ("2", "ra3.large"), ("16", "ra3.large")])
def test_the_default_node_type_is_the_smallest_ra3_node_that_supports_the_cluster_size(make_settings, nodes, expected):
    settings = make_settings(NODE_TYPE="", NUM_NODES=nodes)
    assert settings.node_type == expected
    assert cluster.hourly_cost(settings.node_type, settings.nodes) is not None


def test_the_example_config_no_longer_defaults_to_dc2(make_settings):
    assert read_config(PROJECT_DIR / "dwh.cfg.example")["DWH"]["NODE_TYPE"] == ""
    assert make_settings().node_type == "ra3.xlplus"


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
    config = read_config(settings.config_path)
    assert config["CLUSTER"]["HOST"] == "" and config["IAM_ROLE"]["ARN"] == ""
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
    cluster.ensure_role(aws.client("iam"), settings, tags)
    cluster.ensure_security_group(aws.client("ec2"), settings, tags)
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
    iam.create_role(RoleName="sparkify-redshift-s3-read", AssumeRolePolicyDocument=json.dumps(cluster.trust_policy()))
    with pytest.raises(cluster.ClusterError, match="IAM role sparkify-redshift-s3-read exists but was not made"):
        create(aws, make_settings())
    assert iam.list_role_policies(RoleName="sparkify-redshift-s3-read")["PolicyNames"] == []


# ---------------------------------------------------------------------------
# Config and credentials
# ---------------------------------------------------------------------------


def test_update_config_sets_keys_in_place_and_adds_what_is_missing(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text("# top\n[CLUSTER]\n# the host\nHOST=old\nDB_NAME=dev\n\n[S3]\nREGION=us-west-2\n")
    path.chmod(0o600)
    cluster.update_config(path, {"CLUSTER": {"HOST": "new", "DB_PORT": "5439"}, "IAM_ROLE": {"ARN": "arn:x"}})
    assert path.read_text() == (
        "# top\n[CLUSTER]\n# the host\nHOST=new\nDB_NAME=dev\nDB_PORT=5439\n\n[S3]\nREGION=us-west-2\n"
        "\n[IAM_ROLE]\nARN=arn:x\n"
    )
    assert path.stat().st_mode & 0o777 == 0o600
    assert [item.name for item in tmp_path.iterdir()] == ["dwh.cfg"]


def test_settings_need_a_dwh_section(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text("[CLUSTER]\nHOST=\n")
    with pytest.raises(cluster.ClusterError, match=r"has no \[DWH\] section: copy it from dwh.cfg.example"):
        cluster.read_settings(path)
    with pytest.raises(cluster.ClusterError, match="copy dwh.cfg.example"):
        cluster.read_settings(tmp_path / "missing.cfg")


def test_keys_in_the_config_are_used_when_set_and_never_shown(make_settings):
    settings = make_settings()
    cluster.update_config(settings.config_path, {"AWS": {"KEY": "AKIAEXAMPLEKEY", "SECRET": "example/secret"}})
    settings = cluster.read_settings(settings.config_path)
    credentials = cluster.aws_session(settings).get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("AKIAEXAMPLEKEY", "example/secret")
    assert "example/secret" not in repr(settings)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_help_documents_the_commands():
    result = subprocess.run([sys.executable, "cluster.py", "--help"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True)
    for command in ("create", "status", "pause", "resume", "delete"):
        assert command in result.stdout
    assert "default chain" in result.stdout


def test_delete_without_a_terminal_asks_for_yes(make_settings, capsys, monkeypatch):
    settings = make_settings()
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))
    assert cluster.main(["--config", str(settings.config_path), "delete"]) == 1
    assert "add --yes" in capsys.readouterr().err


def test_the_command_line_creates_reports_and_deletes(aws, make_settings, capsys):
    settings = make_settings()
    config = ["--config", str(settings.config_path)]
    assert cluster.main(config + ["create"]) == 0
    assert cluster.main(config + ["status"]) == 0
    assert "cluster sparkify: available, 1 x ra3.xlplus, encrypted" in capsys.readouterr().out
    assert cluster.main(config + ["delete", "--yes"]) == 0
    nothing_left(aws, settings)


def test_the_command_line_explains_a_refusal(aws, make_settings, capsys):
    settings = make_settings(INGRESS_CIDR="0.0.0.0/0")
    assert cluster.main(["--config", str(settings.config_path), "create"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "ALLOW_ANY_ADDRESS=yes" in error
