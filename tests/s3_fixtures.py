"""A local S3 for the tests: moto's server on a free loopback port, and ways to fill it.

moto keeps one in-memory store per process, so each test module uses bucket
names of its own.
"""

import logging
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

# Credentials that only moto accepts, and no way to find real ones: a test
# must never reach AWS.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-west-2",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
}
NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}


def set_environment(values):
    """Set environment variables; None removes one."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def environment(values):
    """Set (or, for None, remove) environment variables; restore them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        set_environment(values)
        yield
    finally:
        set_environment(saved)


@contextmanager
def moto_server():
    """moto's S3 (and Redshift, IAM...) on 127.0.0.1, a free port; yields its URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        # moto keeps one state per process: leave no bucket or cluster to the next test
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
        server.stop()


def s3(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2")


def make_bucket(endpoint, bucket, region="us-west-2"):
    client = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    if region == "us-east-1":
        client.create_bucket(Bucket=bucket)
    else:
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return client


def upload(endpoint, folder, bucket, prefix="", public=False, only=None):
    """The files of ``folder`` (or its paths ``only``) into ``s3://bucket/prefix/``, in the same layout."""
    client = s3(endpoint)
    folder = Path(folder)
    extra = {"ACL": "public-read"} if public else {}
    paths = [folder / name for name in only] if only else [path for path in folder.rglob("*") if path.is_file()]

    def put(path):
        key = "/".join(part for part in (prefix.strip("/"), path.relative_to(folder).as_posix()) if part)
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, paths))
    return len(paths)
