"""Every boto3 client of the package, made here: retries, timeouts, and the region and credentials of the settings.

    redshift = client("redshift", settings)     # [DWH] REGION; [AWS] KEY/SECRET, else boto3's chain
    s3 = client("s3", session=new_session(), region="us-west-2", max_pool_connections=64)

botocore's "standard" retry mode retries throttling and transient errors
(timeouts, 5xx) with a jittered back-off, up to ``MAX_ATTEMPTS`` tries in
all (the first and five retries); connecting gives up after
``CONNECT_TIMEOUT`` seconds. A failure that
means AWS could not be asked at all (no credentials, no region, no answer) is
an ``AwsUnreachable``, a TargetError: the scripts exit 2 on it, as on any
configuration or connection problem.
"""

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from sparkify.config import Settings, TargetError

MAX_ATTEMPTS = 6
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60


class AwsUnreachable(TargetError):
    """AWS could not be asked: no credentials, no region, or no answer (a configuration or connection problem)."""


def new_session(settings: Settings | None = None, region: str | None = None):
    """A boto3 session: [AWS] KEY and SECRET when the config sets both, else boto3's default chain.

    ``region``: this one, else the warehouse's ([DWH] REGION), else boto3's default.
    """
    region = region or (settings.redshift.region if settings is not None else None)
    aws = settings.aws if settings is not None else None
    if aws is not None and aws.key and aws.secret:
        return boto3.Session(aws_access_key_id=aws.key.reveal(), aws_secret_access_key=aws.secret.reveal(),
                             region_name=region)
    return boto3.Session(region_name=region)


def client(service: str, settings: Settings | None = None, *, session=None, region: str | None = None,
           endpoint_url: str | None = None, **options):
    """A client of ``service`` with the package's retries and timeouts; ``options`` go to botocore's Config
    (``max_pool_connections``, ``signature_version``, ``read_timeout``, ...)."""
    options = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT, **options}
    config = Config(retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"}, **options)
    if session is None:
        session = new_session(settings, region)
    region = region or (settings.redshift.region if settings is not None else None)
    arguments = {"config": config}
    if region:
        arguments["region_name"] = region
    if endpoint_url:
        arguments["endpoint_url"] = endpoint_url
    return session.client(service, **arguments)


def unreachable(error: BotoCoreError) -> AwsUnreachable:
    """botocore's failure to ask AWS, as one line for a person."""
    if isinstance(error, NoCredentialsError):
        return AwsUnreachable("no AWS credentials found: run `aws sso login` (or `aws configure`), or set "
                              "AWS_PROFILE")
    if isinstance(error, NoRegionError):
        return AwsUnreachable("no AWS region: set [DWH] REGION in the config, or AWS_DEFAULT_REGION")
    return AwsUnreachable(f"could not reach AWS ({error}): check the network, or AWS_ENDPOINT_URL")


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def refusal(error: ClientError) -> str:
    """What AWS refused and why, in one line."""
    details = error.response.get("Error", {})
    return (f"AWS refused {error.operation_name}: {details.get('Code', 'error')}: "
            f"{details.get('Message', str(error))}")
