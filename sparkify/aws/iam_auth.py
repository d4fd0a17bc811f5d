"""Temporary database credentials from IAM, so that no database password is stored.

With ``[CLUSTER] AUTH=iam`` the scripts ask AWS for a user name and a
password that expire (15 minutes here; only the login needs them):

- a provisioned cluster: ``redshift:GetClusterCredentials`` for
  ``[CLUSTER] DB_USER`` when it is set, else
  ``redshift:GetClusterCredentialsWithIAM``, whose database user is your IAM
  identity (``IAM:alice``, ``IAMR:role``);
- a Serverless workgroup: ``redshift-serverless:GetCredentials``, whose
  database user is likewise your IAM identity.

Which cluster or workgroup, and in which region, is read from the host
(``<cluster>.<id>.<region>.redshift.amazonaws.com`` or
``<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com``); a host
of another form (a custom domain, a VPC endpoint) falls back on ``[DWH]``
DEPLOYMENT, CLUSTER_IDENTIFIER or WORKGROUP, and REGION. The IAM policy a user
needs is in docs/iam-authentication.md. The password is never printed.
"""

import re
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from sparkify.aws import clients
from sparkify.config import Settings

REGION = r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)"
PROVISIONED_HOST = re.compile(rf"^(?P<name>[a-z][a-z0-9-]*)\.[a-z0-9]+\.{REGION}\.redshift\.amazonaws\.com\.?$")
SERVERLESS_HOST = re.compile(
    rf"^(?P<name>[a-z0-9-]+)\.(?P<account>\d{{12}})\.{REGION}\.redshift-serverless\.amazonaws\.com\.?$")
DURATION_SECONDS = 900  # the shortest both APIs allow: the password is used once, at login
DOCS = "docs/iam-authentication.md"


class IamAuthError(Exception):
    """Temporary credentials could not be had; worded for a person, without secrets."""


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "provisioned" or "serverless"
    name: str  # the cluster identifier or the workgroup name
    region: str | None


def parse_host(host: str) -> Endpoint | None:
    """The cluster or workgroup an AWS endpoint names, or None for a host of another form."""
    host = (host or "").strip().lower()
    for kind, pattern in (("serverless", SERVERLESS_HOST), ("provisioned", PROVISIONED_HOST)):
        match = pattern.match(host)
        if match:
            return Endpoint(kind, match.group("name"), match.group("region"))
    return None


def endpoint_of(settings: Settings, host: str) -> Endpoint:
    """From the host, else from [DWH]: which cluster or workgroup, and where."""
    found = parse_host(host)
    if found:
        return found
    redshift = settings.redshift
    if redshift.serverless:
        name = redshift.workgroup_name or redshift.cluster_identifier
    else:
        name = redshift.cluster_identifier
    if not name:
        raise IamAuthError(
            f"AUTH=iam: cannot tell which cluster or workgroup {host!r} is: set [DWH] CLUSTER_IDENTIFIER "
            "(or DEPLOYMENT=serverless and WORKGROUP) and REGION"
        )
    return Endpoint(redshift.deployment, name, redshift.region)


def temporary_credentials(settings: Settings, host: str, session=None) -> tuple[str, str]:
    """(database user, temporary password) for ``host``, from the [CLUSTER] section's DB_NAME and DB_USER."""
    db_name = settings.target.db_name or "dev"
    db_user = settings.target.db_user
    endpoint = endpoint_of(settings, host)
    session = session or clients.new_session(settings, endpoint.region)
    try:
        if endpoint.kind == "serverless":
            action = "redshift-serverless:GetCredentials"
            answer = clients.client("redshift-serverless", settings, session=session, region=endpoint.region
                                    ).get_credentials(workgroupName=endpoint.name, dbName=db_name,
                                                      durationSeconds=DURATION_SECONDS)
            return answer["dbUser"], answer["dbPassword"]
        redshift = clients.client("redshift", settings, session=session, region=endpoint.region)
        if db_user:
            action = "redshift:GetClusterCredentials"
            answer = redshift.get_cluster_credentials(
                ClusterIdentifier=endpoint.name, DbName=db_name, DbUser=db_user,
                DurationSeconds=DURATION_SECONDS, AutoCreate=False)
        else:
            action = "redshift:GetClusterCredentialsWithIAM"
            answer = redshift.get_cluster_credentials_with_iam(
                ClusterIdentifier=endpoint.name, DbName=db_name, DurationSeconds=DURATION_SECONDS)
        return answer["DbUser"], answer["DbPassword"]
    except NoCredentialsError:
        raise IamAuthError("AUTH=iam needs AWS credentials to get a temporary database password: run "
                           "`aws sso login` (or `aws configure`), or set AWS_PROFILE") from None
    except NoRegionError:
        raise IamAuthError("AUTH=iam: no AWS region: set [DWH] REGION, or AWS_DEFAULT_REGION") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        what = f"{'workgroup' if endpoint.kind == 'serverless' else 'cluster'} {endpoint.name}"
        user = f" as database user {db_user}" if db_user and endpoint.kind == "provisioned" else ""
        raise IamAuthError(
            f"AUTH=iam: AWS refused {action} for {what} in {endpoint.region or 'the default region'}{user}: "
            f"{details.get('Code', 'error')}: {details.get('Message', '')}. Your IAM identity needs {action} "
            f"on it: see {DOCS}"
        ) from None
    except BotoCoreError as error:
        raise IamAuthError(f"AUTH=iam: could not ask AWS for a temporary database password ({error})") from None
