"""doctor.py on today's AWS: a Serverless endpoint, the regions a COPY can read, and what it tells the person.

The Serverless calls go through botocore's Stubber (moto has no
redshift-serverless), which checks each request against the service model.
"""

import os
import sys

import boto3
import pytest
from botocore.stub import Stubber

import sql_queries as q
from sparkify import config as config_module
from sparkify.checks import doctor
from sparkify.engines.connect import Target

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
HOST = "sparkify.123456789012.us-west-2.redshift-serverless.amazonaws.com"
NOT_FOUND = {"service_error_code": "ResourceNotFoundException", "http_status_code": 400}


def config(**sections):
    return config_module.parse({"CLUSTER": {"HOST": HOST}, "IAM_ROLE": {"ARN": ROLE}, **sections})


@pytest.fixture
def stub():
    client = boto3.client("redshift-serverless", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def workgroup(status="AVAILABLE"):
    return {"workgroup": {"workgroupName": "sparkify", "namespaceName": "sparkify-ns", "status": status}}


def namespace(*roles):
    return {"namespace": {"namespaceName": "sparkify-ns", "status": "AVAILABLE", "iamRoles": list(roles)}}


# ---------------------------------------------------------------------------
# A Serverless endpoint
# ---------------------------------------------------------------------------


def test_a_serverless_endpoint_is_checked_as_a_workgroup_with_the_role_on_its_namespace(stub):
    stub.add_response("get_workgroup", workgroup(), {"workgroupName": "sparkify"})
    stub.add_response("get_namespace", namespace(f"IamRole(applyStatus=in-sync, iamRoleArn={ROLE})"),
                      {"namespaceName": "sparkify-ns"})
    assert str(doctor.check_iam_role(config(), HOST, stub.client)) == (
        f"ok    the IAM role {ROLE} is attached to namespace sparkify-ns of Serverless workgroup sparkify, "
        "which is AVAILABLE"
    )


@pytest.mark.parametrize("answers, expected", [
    ([("error", "get_workgroup")],
     "FAIL  Serverless workgroup sparkify not found in us-west-2: check [CLUSTER] HOST, or [DWH] WORKGROUP and "
     "REGION"),
    ([("get_workgroup", workgroup("CREATING"))],
     "FAIL  Serverless workgroup sparkify is CREATING, not AVAILABLE: wait until `python cluster.py status` "
     "shows it AVAILABLE"),
    ([("get_workgroup", workgroup()), ("get_namespace", namespace("arn:aws:iam::123456789012:role/other"))],
     f"FAIL  the IAM role {ROLE} of [IAM_ROLE] ARN is not attached to namespace sparkify-ns of workgroup "
     "sparkify (attached: arn:aws:iam::123456789012:role/other): attach it (aws redshift-serverless "
     "update-namespace --namespace-name sparkify-ns --iam-roles arn:aws:iam::123456789012:role/other "
     f"{ROLE}) or set ARN to an attached role"),
    ([("get_workgroup", workgroup()), ("get_namespace", namespace(f"IamRole(applyStatus=adding, iamRoleArn={ROLE})"))],
     f"FAIL  the IAM role {ROLE} is still being attached to namespace sparkify-ns (adding): wait a minute and "
     "check again"),
    ([("get_workgroup", workgroup()), ("error", "get_namespace")],
     "FAIL  the namespace sparkify-ns of Serverless workgroup sparkify was not found"),
])
def test_what_is_wrong_with_a_workgroup_is_said_with_what_to_do(stub, answers, expected):
    for operation, answer in answers:
        if operation == "error":
            stub.add_client_error(answer, **NOT_FOUND)
        else:
            stub.add_response(operation, answer)
    assert str(doctor.check_iam_role(config(), HOST, stub.client)) == expected


def test_a_custom_domain_with_deployment_serverless_is_a_workgroup_too(stub):
    stub.add_response("get_workgroup", workgroup(), {"workgroupName": "sparkify"})
    stub.add_response("get_namespace", namespace(ROLE))
    settings = config(CLUSTER={"HOST": "warehouse.example.com"},
                      DWH={"DEPLOYMENT": "serverless", "WORKGROUP": "sparkify", "REGION": "us-west-2"})
    assert doctor.check_iam_role(settings, "warehouse.example.com", stub.client).status == "ok"


def test_a_provisioned_endpoint_is_still_asked_of_the_redshift_api():
    assert doctor.serverless_endpoint(config(), "sparkify.abc123.us-west-2.redshift.amazonaws.com") is None


# ---------------------------------------------------------------------------
# Regions: what no COPY can read
# ---------------------------------------------------------------------------

SOURCE = {"log_data": "s3://udacity-dend/log_data", "song_data": "s3://udacity-dend/song_data",
          "log_jsonpath": "s3://udacity-dend/log_json_path.json"}


@pytest.mark.parametrize("regions, locations, manifest, expected", [
    pytest.param({"udacity-dend": "us-west-2"}, SOURCE, None, [], id="one region, no manifest"),
    pytest.param({"udacity-dend": "us-west-2", "my-manifests": "us-west-2"}, SOURCE, "s3://my-manifests/daily/",
                 ["ok    a daily run's COPY can read the manifest under s3://my-manifests/daily/ and the files it "
                  "lists: all in us-west-2"], id="manifest with the source"),
    pytest.param({"udacity-dend": "us-west-2", "my-manifests": "us-east-1"}, SOURCE, "s3://my-manifests/daily/",
                 ["FAIL  a daily run's COPY reads the manifest under [S3] MANIFEST_PREFIX s3://my-manifests/daily/ "
                  "(us-east-1) and the files it lists under one REGION, but s3://udacity-dend/log_data in "
                  "us-west-2, s3://udacity-dend/song_data in us-west-2: no COPY can read both: set [S3] "
                  "MANIFEST_PREFIX to a prefix you can write in a bucket in us-west-2, the source's region"],
                 id="manifest in the cluster's region, source elsewhere"),
    pytest.param({"logs": "us-west-2", "songs": "eu-west-1", "my-manifests": "us-west-2"},
                 {"log_data": "s3://logs/log_data", "song_data": "s3://songs/song_data",
                  "log_jsonpath": "s3://logs/log_json_path.json"}, "s3://my-manifests/m/",
                 ["FAIL  a daily run's COPY reads the manifest under [S3] MANIFEST_PREFIX s3://my-manifests/m/ "
                  "(us-west-2) and the files it lists under one REGION, but s3://songs/song_data in eu-west-1: no "
                  "COPY can read both: keep the source in one region, and MANIFEST_PREFIX in a bucket there"],
                 id="source in two regions, manifest with one of them"),
    pytest.param({"logs": "us-west-2", "paths": "us-east-1"},
                 {"log_data": "s3://logs/log_data", "song_data": "s3://logs/song_data",
                  "log_jsonpath": "s3://paths/log_json_path.json"}, None,
                 ["FAIL  the events' COPY reads s3://logs/log_data (us-west-2) and its JSONPaths file "
                  "s3://paths/log_json_path.json (us-east-1) under one REGION, which no COPY can: put the "
                  "JSONPaths file in a bucket in us-west-2"], id="JSONPaths file in another region"),
    pytest.param({"udacity-dend": "us-west-2", "my-manifests": None}, SOURCE, "s3://my-manifests/daily/", [],
                 id="manifest bucket's region unknown: its own check says why"),
])
def test_doctor_names_the_region_combinations_no_copy_can_read(regions, locations, manifest, expected):
    findings = doctor.check_copy_regions(locations, manifest, regions.get)
    assert [str(finding) for finding in findings] == expected


def test_an_unreachable_manifest_bucket_is_reported_once():
    client = boto3.client("s3", region_name="us-west-2")
    problems = []
    with Stubber(client) as stubber:
        stubber.add_client_error("head_bucket", service_error_code="NoSuchBucket", http_status_code=404)
        region_of = doctor.region_finder(client, problems)
        assert region_of("no-such-manifests") is None
        assert region_of("no-such-manifests") is None  # asked once
    assert [finding.status for finding in problems] == ["FAIL"]
    assert "s3://no-such-manifests" in str(problems[0])


# ---------------------------------------------------------------------------
# What doctor tells the person
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("inside", [True, False])
def test_the_command_shown_is_the_interpreter_the_person_ran(tmp_path, monkeypatch, inside):
    project = tmp_path / "project"
    interpreter = (project if inside else tmp_path / "elsewhere") / ".venv" / "bin" / "python"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "executable", str(interpreter))
    expected = os.path.join(".venv", "bin", "python") if inside else str(interpreter)
    assert doctor.python_command() == expected


def test_the_tables_checked_are_the_tables_create_tables_makes():
    created = [statement.split("CREATE TABLE", 1)[1].split("(", 1)[0].replace("IF NOT EXISTS", "").strip()
               for statement in q.create_table_queries]
    assert sorted(doctor.TABLES) == sorted(created)
    assert len(doctor.TABLES) == 9


def test_engine_redshift_against_the_embedded_postgres_says_it_does_not_apply(warehouse, monkeypatch, tmp_path):
    local = Target(dsn=warehouse.dsn, label="embedded PostgreSQL (test)", local=True,
                   settings=config_module.Settings())
    monkeypatch.setattr(doctor, "choose_target", lambda settings, dsn, pgdata: local)
    monkeypatch.setattr(doctor, "unmade_warehouse", lambda choice, pgdata=None: None)  # the test's server is made
    findings = doctor.diagnose(engine="redshift", source=str(tmp_path))
    assert str(findings[0]) == (
        "FAIL  --engine redshift does not apply to the embedded PostgreSQL, which is never Redshift: the checks "
        "below are PostgreSQL's. To check a Redshift warehouse, give --dsn or set [CLUSTER] HOST"
    )
    assert str(findings[1]) == "ok    embedded PostgreSQL (test) answers: PostgreSQL"
    assert not any("encrypted" in str(finding) for finding in findings)
