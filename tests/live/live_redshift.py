"""The opt-in live suite's helpers: the Redshift behaviours no fake can show, run against your own warehouse.

Run only when all three are set (docs/live-tests.md):

    REDSHIFT_TEST_DSN        postgresql://user:password@host:5439/dev?sslmode=verify-full
                             (a provisioned cluster or a Serverless workgroup: the host says which;
                             an admin user: the IAM cases grant with it)
    REDSHIFT_TEST_S3_PREFIX  s3://bucket/prefix/ that your AWS credentials can write and delete
    REDSHIFT_TEST_IAM_ROLE   the ARN of a role attached to the warehouse that can read that prefix

and optionally REDSHIFT_TEST_S3_REGION, the bucket's region when it is not the
warehouse's (empty: COPY without REGION), and REDSHIFT_TEST_IAM_AUTH=yes for
the cases that log in with AUTH=iam as the AWS identity of the environment.
Otherwise every test here is skipped, and pytest lists it as skipped with the
reason (pytest -ra).

Each test works in a schema of its own, created and dropped here, and below a
prefix of its own under REDSHIFT_TEST_S3_PREFIX, deleted afterwards.
"""

import json
import os
import uuid
from urllib.parse import urlparse

import psycopg2
import pytest

from sparkify.api import create_tables
from sparkify.config import Settings, parse
from sparkify.engines.connect import Target, connect

REQUIRED = ("REDSHIFT_TEST_DSN", "REDSHIFT_TEST_S3_PREFIX", "REDSHIFT_TEST_IAM_ROLE")
JSONPATHS = {"jsonpaths": [f"$['{key}']" for key in (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", "location", "method",
    "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId")]}
MISSING = [name for name in REQUIRED if not os.environ.get(name)]


# every test module here starts with: pytestmark = NEEDS_A_WAREHOUSE
NEEDS_A_WAREHOUSE = pytest.mark.skipif(
    bool(MISSING), reason=f"live Redshift suite: set {', '.join(MISSING)} to run it (docs/live-tests.md)")
# the IAM cases also need AWS credentials that may ask for a temporary database password
NEEDS_IAM = pytest.mark.skipif(
    not os.environ.get("REDSHIFT_TEST_IAM_AUTH"),
    reason="live IAM cases: set REDSHIFT_TEST_IAM_AUTH=yes, with AWS credentials allowed "
           "GetClusterCredentialsWithIAM or GetCredentials (docs/live-tests.md)")


class Live:
    """One test's schema on the warehouse, and its own prefix in S3."""

    def __init__(self):
        self.dsn = os.environ["REDSHIFT_TEST_DSN"]
        self.host = urlparse(self.dsn).hostname or ""
        self.schema = f"sparkify_live_{uuid.uuid4().hex[:12]}"
        self.prefix = os.environ["REDSHIFT_TEST_S3_PREFIX"].rstrip("/") + f"/{self.schema}"
        self.bucket, _, self.key_prefix = self.prefix[len("s3://"):].partition("/")
        import boto3

        self.s3 = boto3.client("s3", region_name=os.environ.get("REDSHIFT_TEST_S3_REGION") or None)
        self.connections = []

    def connect(self, dsn=None):
        """A connection whose tables are this test's schema's, made as the scripts make theirs (TCP
        keepalives included): to REDSHIFT_TEST_DSN, or ``dsn``."""
        connection = connect(Target(dsn or self.dsn, "the live warehouse", False))
        with connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {self.schema}")
        connection.commit()
        self.connections.append(connection)
        return connection

    def iam_settings(self) -> Settings:
        """[CLUSTER] for AUTH=iam: the warehouse of REDSHIFT_TEST_DSN, a temporary password for the AWS
        identity of the environment (docs/iam-authentication.md)."""
        params = psycopg2.extensions.parse_dsn(self.dsn)
        cluster = {"HOST": self.host, "DB_NAME": params.get("dbname", "dev"), "DB_PORT": params.get("port", "5439"),
                   "DB_USER": "", "AUTH": "iam", "SSLMODE": params.get("sslmode", "")}
        return parse({"CLUSTER": cluster, "DWH": {"DEPLOYMENT": os.environ.get("REDSHIFT_TEST_DEPLOYMENT", "")}},
                     os.environ)

    def config(self, manifests=True) -> Settings:
        return parse({
            "CLUSTER": {"HOST": self.host},
            "IAM_ROLE": {"ARN": os.environ["REDSHIFT_TEST_IAM_ROLE"]},
            "S3": {"REGION": os.environ.get("REDSHIFT_TEST_S3_REGION", ""),
                   "MANIFEST_PREFIX": f"{self.prefix}/manifests/" if manifests else ""},
            "DWH": {"DEPLOYMENT": os.environ.get("REDSHIFT_TEST_DEPLOYMENT", "")},
        })

    def upload(self, name, log_files, songs):
        """A source in the real layout below this test's prefix: ``log_files`` (name -> text) in
        log_data/2018/11/, each song in a file of its own, the JSONPaths file; its s3:// URL."""
        root = f"{self.prefix}/{name}"
        for file_name, text in log_files.items():
            self.put(f"{root}/log_data/2018/11/{file_name}", text)
        for number, song in enumerate(songs):
            self.put(f"{root}/song_data/A/B/C/TRABC{number:013d}.json", json.dumps(song))
        self.put(f"{root}/log_json_path.json", json.dumps(JSONPATHS, indent=4))
        return root

    def put(self, url, text):
        bucket, _, key = url[len("s3://"):].partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))

    def query(self, sql):
        return self.query_on(self.connections[0], sql)

    @staticmethod
    def query_on(connection, sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
        connection.rollback()
        return rows

    def admin_user(self):
        return self.query("SELECT current_user")[0][0]

    def clean(self):
        for connection in self.connections:
            connection.close()
        with psycopg2.connect(self.dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.key_prefix + "/")
        for page in pages:
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])


@pytest.fixture(name="live")
def live_fixture():
    live = Live()
    with psycopg2.connect(live.dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {live.schema}")
    try:
        create_tables(live.connect(), "redshift")
        yield live
    finally:
        live.clean()


def event(**overrides):
    """A valid NextSong event as the app logs it (tests/conftest.py's); override any key."""
    record = {
        "artist": "Des'ree", "auth": "Logged In", "firstName": "Kaylee", "gender": "F", "itemInSession": 1,
        "lastName": "Summers", "length": 246.30812, "level": "free", "location": "Phoenix-Mesa-Scottsdale, AZ",
        "method": "PUT", "page": "NextSong", "registration": 1540344794796.0, "sessionId": 139,
        "song": "You Gotta Be", "status": 200, "ts": 1541106106796, "userAgent": "Mozilla/5.0", "userId": "8",
    }
    return {**record, **overrides}


def song(**overrides):
    record = {
        "num_songs": 1, "artist_id": "ARMJAGH1187FB546F3", "artist_latitude": 35.14968,
        "artist_longitude": -90.04892, "artist_location": "Memphis, TN", "artist_name": "Des'ree",
        "song_id": "SOUPIRU12A6D4FA1E1", "title": "You Gotta Be", "duration": 246.30812, "year": 1994,
    }
    return {**record, **overrides}


def lines(*records):
    return "\n".join(record if isinstance(record, str) else json.dumps(record) for record in records) + "\n"
