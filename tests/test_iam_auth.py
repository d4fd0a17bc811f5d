"""[CLUSTER] AUTH=iam: temporary credentials from the Redshift and Redshift Serverless APIs, no stored password.

Both services are driven through botocore's Stubber, which checks every
request against the service model: the calls below are the ones AWS would
receive, parameter for parameter.
"""

import boto3
import psycopg2.extensions
import pytest
from botocore.stub import Stubber

from sparkify import config as config_module
from sparkify.aws import iam_auth
from sparkify.engines import connect

PROVISIONED = "sparkify.c1a2b3c4d5e6.us-west-2.redshift.amazonaws.com"
SERVERLESS = "sparkify-wg.123456789012.eu-central-1.redshift-serverless.amazonaws.com"
TEMPORARY = "temporary-Secret-1"


def config(cluster=None, dwh=None):
    return config_module.parse({"CLUSTER": {"DB_NAME": "dev", "DB_USER": "", **(cluster or {})}, "DWH": dwh or {}})


class Session:
    """Hands out stubbed clients, and remembers the region each was asked for."""

    def __init__(self):
        self.stubs, self.regions = {}, {}

    def stub(self, service, region):
        client = boto3.client(service, region_name=region)
        self.stubs[service] = Stubber(client)
        return self.stubs[service]

    def client(self, service, region_name=None, **options):
        self.regions[service] = region_name
        return self.stubs[service].client


@pytest.fixture
def aws():
    session = Session()
    yield session
    for stubber in session.stubs.values():
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("host, expected", [
    (PROVISIONED, iam_auth.Endpoint("provisioned", "sparkify", "us-west-2")),
    (PROVISIONED.upper() + ".", iam_auth.Endpoint("provisioned", "sparkify", "us-west-2")),
    (SERVERLESS, iam_auth.Endpoint("serverless", "sparkify-wg", "eu-central-1")),
    ("my-wg.123456789012.us-gov-west-1.redshift-serverless.amazonaws.com",
     iam_auth.Endpoint("serverless", "my-wg", "us-gov-west-1")),
    ("warehouse.example.com", None),
    ("sparkify.c1a2b3.us-west-2.redshift.amazonaws.com.evil.example", None),
    ("", None),
])
def test_the_cluster_or_workgroup_is_read_from_the_endpoint(host, expected):
    assert iam_auth.parse_host(host) == expected


@pytest.mark.parametrize("dwh, expected", [
    ({"CLUSTER_IDENTIFIER": "prod", "REGION": "us-east-1"}, iam_auth.Endpoint("provisioned", "prod", "us-east-1")),
    ({"DEPLOYMENT": "serverless", "WORKGROUP": "my-wg", "CLUSTER_IDENTIFIER": "x", "REGION": "us-east-2"},
     iam_auth.Endpoint("serverless", "my-wg", "us-east-2")),
    ({"DEPLOYMENT": "serverless", "CLUSTER_IDENTIFIER": "x"}, iam_auth.Endpoint("serverless", "x", None)),
])
def test_a_custom_domain_falls_back_on_the_dwh_section(dwh, expected):
    assert iam_auth.endpoint_of(config(dwh=dwh), "warehouse.example.com") == expected


def test_a_host_that_names_nothing_and_no_dwh_section_is_explained():
    with pytest.raises(iam_auth.IamAuthError, match=r"cannot tell which cluster or workgroup 'db.example.com' is"):
        iam_auth.endpoint_of(config(), "db.example.com")


def test_a_cluster_without_db_user_gets_credentials_for_the_iam_identity(aws):
    aws.stub("redshift", "us-west-2").add_response(
        "get_cluster_credentials_with_iam", {"DbUser": "IAM:alice", "DbPassword": TEMPORARY},
        {"ClusterIdentifier": "sparkify", "DbName": "dev", "DurationSeconds": 900})
    with aws.stubs["redshift"]:
        assert iam_auth.temporary_credentials(config(), PROVISIONED, aws) == ("IAM:alice", TEMPORARY)
    assert aws.regions["redshift"] == "us-west-2"


def test_a_cluster_with_db_user_gets_credentials_for_that_user_without_creating_it(aws):
    aws.stub("redshift", "us-west-2").add_response(
        "get_cluster_credentials", {"DbUser": "IAM:etl", "DbPassword": TEMPORARY},
        {"ClusterIdentifier": "sparkify", "DbName": "dev", "DbUser": "etl", "DurationSeconds": 900,
         "AutoCreate": False})
    with aws.stubs["redshift"]:
        assert iam_auth.temporary_credentials(config({"DB_USER": "etl"}), PROVISIONED, aws) == ("IAM:etl", TEMPORARY)


def test_a_serverless_workgroup_gets_credentials_from_redshift_serverless(aws):
    aws.stub("redshift-serverless", "eu-central-1").add_response(
        "get_credentials", {"dbUser": "IAMR:etl-role", "dbPassword": TEMPORARY},
        {"workgroupName": "sparkify-wg", "dbName": "dev", "durationSeconds": 900})
    with aws.stubs["redshift-serverless"]:
        # DB_USER does not choose the user on Serverless: the IAM identity does.
        assert iam_auth.temporary_credentials(config({"DB_USER": "awsuser"}), SERVERLESS, aws) == (
            "IAMR:etl-role", TEMPORARY)
    assert aws.regions["redshift-serverless"] == "eu-central-1"


@pytest.mark.parametrize("host, service, operation, action", [
    (PROVISIONED, "redshift", "get_cluster_credentials_with_iam", "redshift:GetClusterCredentialsWithIAM"),
    (SERVERLESS, "redshift-serverless", "get_credentials", "redshift-serverless:GetCredentials"),
])
def test_a_refusal_names_the_iam_action_to_allow_and_the_docs(aws, host, service, operation, action):
    region = iam_auth.parse_host(host).region
    aws.stub(service, region).add_client_error(operation, service_error_code="AccessDeniedException",
                                               service_message="not authorized", http_status_code=403)
    with aws.stubs[service], pytest.raises(iam_auth.IamAuthError) as refusal:
        iam_auth.temporary_credentials(config(), host, aws)
    message = str(refusal.value)
    assert f"AWS refused {action}" in message and f"needs {action}" in message
    assert "docs/iam-authentication.md" in message


def test_cluster_dsn_with_auth_iam_needs_no_stored_password_and_never_shows_the_temporary_one(
        tmp_path, monkeypatch):
    monkeypatch.delenv(config_module.PASSWORD_ENV, raising=False)
    asked = []

    def fake(config, host):
        asked.append(host)
        return "IAM:alice", TEMPORARY

    monkeypatch.setattr(iam_auth, "temporary_credentials", fake)
    path = tmp_path / "dwh.cfg"
    path.write_text(f"[CLUSTER]\nHOST={PROVISIONED}\nDB_NAME=dev\nDB_USER=\nDB_PASSWORD=\nAUTH=iam\n")
    dsn = connect.cluster_dsn(config_module.load_settings(path))
    params = psycopg2.extensions.parse_dsn(dsn)
    assert (params["user"], params["password"], params["sslmode"]) == ("IAM:alice", TEMPORARY, "verify-full")
    assert asked == [PROVISIONED]
    assert TEMPORARY not in connect.redact(dsn)


@pytest.mark.parametrize("auth, message", [
    ("kerberos", "AUTH must be password or iam, not 'kerberos'"),
    ("password", "DB_PASSWORD is missing"),
])
def test_auth_settings_are_checked(tmp_path, monkeypatch, auth, message):
    monkeypatch.delenv(config_module.PASSWORD_ENV, raising=False)
    path = tmp_path / "dwh.cfg"
    path.write_text(f"[CLUSTER]\nHOST={PROVISIONED}\nDB_NAME=dev\nDB_USER=awsuser\nAUTH={auth}\n")
    with pytest.raises(connect.TargetError, match=message):
        connect.cluster_dsn(config_module.load_settings(path))


def test_an_iam_failure_reaches_the_person_as_a_target_error(tmp_path, monkeypatch):
    def refuse(config, host):
        raise iam_auth.IamAuthError("AUTH=iam needs AWS credentials to get a temporary database password")

    monkeypatch.setattr(iam_auth, "temporary_credentials", refuse)
    path = tmp_path / "dwh.cfg"
    path.write_text(f"[CLUSTER]\nHOST={SERVERLESS}\nDB_NAME=dev\nAUTH=iam\n")
    with pytest.raises(connect.TargetError, match=r"dwh.cfg: AUTH=iam needs AWS credentials"):
        connect.cluster_dsn(config_module.load_settings(path))
