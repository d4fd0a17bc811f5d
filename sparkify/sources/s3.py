"""An S3 prefix as a source for the local loader (the interface of sparkify/sources/__init__.py).

    source = S3Source("s3://udacity-dend")        # a public bucket: no AWS account needed
    source = S3Source("s3://my-bucket/sparkify", endpoint_url="http://127.0.0.1:9000")

Why it is built this way:

- The listing is paginated (1,000 keys a request), so a prefix of any size lists.
- The loader opens the files one after the other. Waiting for each GET in turn
  would take hours for the few hundred thousand small song files of the real
  bucket, so a pool of threads fetches them ahead of the reader, in the order
  the reader will ask for them. At most ``ahead_files`` objects and
  ``ahead_bytes`` bytes wait in memory; an object larger than ``STREAM_ABOVE``
  is never held: it is streamed when it is opened.
- botocore retries throttling and transient errors itself ("standard" mode,
  set where every client is made: sparkify/aws/clients.py).
- With no AWS credentials configured, requests go unsigned, so a public
  bucket such as s3://udacity-dend reads without an AWS account.
- ``AWS_ENDPOINT_URL`` (which boto3 reads) or ``endpoint_url`` points it at any
  S3-compatible store (MinIO, moto, ...).

Every failure is a ``SourceError`` (sparkify/sources/__init__.py): one line that names the
bucket or object and says what to do. Every read is bounded: an object is
read whole only up to a limit (``read_bytes``), or the size it was listed
with (a file fetched ahead); past it, it is streamed or refused.
"""

import functools
import io
import re
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from botocore import UNSIGNED
from botocore.exceptions import BotoCoreError, ClientError

from sparkify.aws import clients
from sparkify.config import TargetError, without_credentials
from sparkify.output.printable import printable
from sparkify.sources import (
    SourceError,
    SourceFile,
    SourceNotFound,
    SourceUnreachable,
    _is_json,
    check_names,
    too_large,
)

WORKERS = 64
AHEAD_FILES = 1024
AHEAD_BYTES = 64 * 1024 * 1024
STREAM_ABOVE = 16 * 1024 * 1024

REFUSED_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
ACCESS_DENIED = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden", "403"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix")``; a URL with credentials is refused
    (config.without_credentials), never shown."""
    try:
        without_credentials(url, "the S3 location")
    except TargetError as error:
        raise SourceError(str(error)) from None
    if not url.startswith("s3://"):
        raise SourceError(f"{url}: not an S3 location: write s3://bucket or s3://bucket/prefix")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise SourceError(f"{url}: no bucket name: write s3://bucket or s3://bucket/prefix")
    return bucket, prefix.strip("/")


def s3_client(endpoint_url=None, region=None, workers=WORKERS):
    """A thread-safe S3 client, and whether it is anonymous.

    Requests are unsigned when boto3 finds no credentials (environment,
    ~/.aws, an instance role...), which is what a public bucket needs.
    """
    session = clients.new_session(region=region or None)
    anonymous = session.get_credentials() is None
    client = clients.client("s3", session=session, region=region or None, endpoint_url=endpoint_url or None,
                            max_pool_connections=workers, signature_version=UNSIGNED if anonymous else None)
    return client, anonymous


def explain(error, where: str, anonymous: bool = False) -> SourceError:
    """A boto3 error as one line for a person: what failed, where, what to do."""
    where = printable(where)
    if not isinstance(error, ClientError):
        endpoint = urllib.parse.urlsplit(getattr(error, "kwargs", {}).get("endpoint_url") or "")
        host = endpoint.hostname and (f"{endpoint.hostname}:{endpoint.port}" if endpoint.port else endpoint.hostname)
        reason = f"at {endpoint.scheme}://{host}" if host else f"({printable(_USERINFO.sub('//***@', str(error)))})"
        return SourceUnreachable(
            f"{where}: could not reach S3 {reason}: check the network, or AWS_ENDPOINT_URL "
            "if you use an S3-compatible store"
        )
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    bucket, _, key = where[len("s3://"):].partition("/")
    if code == "NoSuchBucket" or (code == "404" and not key):
        return SourceNotFound(f"s3://{bucket}: no such bucket: check the bucket name")
    if code in ("NoSuchKey", "404"):
        return SourceNotFound(f"{where}: not found")
    if code in REFUSED_CREDENTIALS:
        return SourceError(f"{where}: S3 refused the AWS credentials ({code}): check or renew them")
    if code in ACCESS_DENIED or status == 403:
        if anonymous:
            hint = ("no AWS credentials are configured, so the request was anonymous: configure "
                    "credentials that may read it (aws configure, or AWS_PROFILE)")
        else:
            hint = "your AWS credentials may not read it: they need s3:ListBucket and s3:GetObject on it"
        return SourceError(f"{where}: access denied: {hint}")
    if code in ("PermanentRedirect", "301") or status == 301:
        return SourceError(f"{where}: the bucket is in another region: set [S3] REGION to its region")
    message = error.response.get("Error", {}).get("Message", "")
    return SourceError(f"{where}: S3 answered {code or status}{': ' + message if message else ''}")


_USERINFO = re.compile(r"//[^/@\s]*@")  # the user:password@ of a URL that botocore may quote in its message


def bucket_region(client, bucket: str) -> str | None:
    """The bucket's region, from the ``x-amz-bucket-region`` header.

    S3 sends that header even when it refuses the request (403) or redirects it
    (301), so the region can be known without the right to read the bucket.
    """
    try:
        response = client.head_bucket(Bucket=bucket)
    except ClientError as error:
        response = error.response
        if "x-amz-bucket-region" not in response.get("ResponseMetadata", {}).get("HTTPHeaders", {}):
            raise
    return response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")


class S3Source:
    """``s3://bucket/prefix`` holding song_data/, log_data/ and log_json_path.json."""

    listable = True

    def __init__(self, url, endpoint_url=None, region=None, client=None, workers=WORKERS,
                 ahead_files=AHEAD_FILES, ahead_bytes=AHEAD_BYTES, page_size=None):
        self.bucket, self.prefix = parse_s3_url(url)
        self.page_size = page_size  # keys per listing request; None: S3's 1,000
        self.label = printable(f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}")
        self.warnings = []  # nothing is left out of an S3 listing
        self._client_settings = (endpoint_url, region, workers)
        if client is not None:
            self.client, self._anonymous = client, False
        self._ahead = ReadAhead(self._fetch, self._stream, workers, ahead_files, ahead_bytes)

    @functools.cached_property
    def client(self):
        """The S3 client, made on first use: a dry run, which reads nothing, looks up no credentials (an
        instance's metadata service is a connection too)."""
        client, self._anonymous = s3_client(*self._client_settings)
        return client

    @property
    def anonymous(self) -> bool:
        """Whether requests go unsigned: boto3 found no credentials (the client is made to know)."""
        return self.client is not None and self._anonymous

    def key(self, name: str) -> str:
        """The object key of ``name``, a path relative to the source."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def check(self) -> None:
        """The bucket is there and may be listed, and something is stored under the prefix."""
        where = self.label
        try:
            listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.key(""), MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, where, self.anonymous) from None
        if not listing.get("KeyCount"):
            raise SourceNotFound(f"{where}: nothing is stored under this prefix: check the path after the bucket name")

    def files(self, prefix: str) -> list[SourceFile]:
        """The ``.json`` objects below ``prefix``, in key order, fetched ahead of the reader."""
        start = len(self.key(""))
        objects = sorted(
            (item for item in self._list(self._below(prefix)) if _is_json(item["Key"])),
            key=lambda item: item["Key"],
        )
        found = [
            SourceFile(
                name=item["Key"][start:],
                size=item["Size"],
                open=self._ahead.plan(item["Key"], item["Size"]),
                version=item.get("ETag", "").strip('"'),
            )
            for item in objects
        ]
        check_names(found, self.label)
        return found

    def first_file(self, prefix: str) -> SourceFile | None:
        """The first ``.json`` object below ``prefix``, listing no further than the page that holds it."""
        start = len(self.key(""))
        for item in self._list(self._below(prefix)):
            if _is_json(item["Key"]):
                found = SourceFile(name=item["Key"][start:], size=item["Size"], open=partial(self._stream, item["Key"]),
                                   version=item.get("ETag", "").strip('"'))
                check_names([found], self.label)
                return found
        return None

    def read_bytes(self, name: str, limit: int) -> bytes:
        """An object's bytes: refused when it is larger than ``limit`` (its size is asked first)."""
        return self._get(self.key(name), limit)

    def _below(self, prefix: str) -> str:
        """The key prefix of the objects below ``prefix`` ("" for the whole source)."""
        return self.key(prefix) + "/" if prefix else self.key("")

    def close(self) -> None:
        """Stop fetching ahead (after a failed load, say)."""
        self._ahead.close()

    def _list(self, prefix):
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size or 1000}
            )
            for page in pages:
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as error:
            raise explain(error, f"s3://{self.bucket}/{prefix}", self.anonymous) from None

    def _get(self, key: str, limit: int) -> bytes:
        """The object's bytes, at most ``limit``: its size is known before its body is read."""
        where = f"s3://{self.bucket}/{key}"
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body, size = response["Body"], response.get("ContentLength")
            if size is not None and size > limit:
                body.close()
                raise too_large(printable(where), size, limit)
            data = body.read(limit + 1)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, where, self.anonymous) from None
        except (OSError, ValueError) as error:  # the connection broke mid-body
            raise broken(where, error) from None
        if len(data) > limit:
            raise too_large(printable(where), len(data), limit)
        return data

    def _fetch(self, key: str) -> bytes:
        """A file the reader will open, fetched ahead: it was listed at STREAM_ABOVE or less."""
        return self._get(key, STREAM_ABOVE)

    def _stream(self, key: str):
        where = f"s3://{self.bucket}/{key}"
        try:
            return ObjectStream(self.client.get_object(Bucket=self.bucket, Key=key)["Body"], where, self.anonymous)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, where, self.anonymous) from None


def broken(where, error) -> SourceError:
    """The connection broke while an object's body was read."""
    return SourceError(f"cannot read {printable(where)}: {error}: check the network, then run again")


class ObjectStream(io.RawIOBase):
    """An S3 object's body, read as it comes: a read that fails is a SourceError that names the object."""

    def __init__(self, body, where, anonymous=False):
        self._body = body
        self._where = where
        self._anonymous = anonymous

    def readable(self):
        return True

    def read(self, size=-1):
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, self._where, self._anonymous) from None
        except (OSError, ValueError) as error:
            raise broken(self._where, error) from None

    def readall(self):
        return self.read()

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self._body.close()
        super().close()


class ReadAhead:
    """Fetch objects ahead of a reader that opens them in a known order.

    ``plan(key, size)`` appends an object to the reading order and returns the
    function that opens it. Opening one schedules the objects after it, up to
    ``max_files`` objects and ``max_bytes`` bytes waiting; objects larger than
    STREAM_ABOVE are left out and streamed when opened. An object opened out of
    order is simply fetched then.
    """

    def __init__(self, fetch, stream, workers, max_files, max_bytes):
        self._fetch = fetch  # key -> bytes
        self._stream = stream  # key -> a file object
        self._workers = workers
        self._max_files = max_files
        self._max_bytes = max_bytes
        self._plan = []  # (key, size), in reading order
        self._waiting = {}  # plan index -> Future of the object's bytes
        self._waiting_bytes = 0
        self._next = 0  # the first plan index not scheduled yet
        self._lock = threading.Lock()
        self._pool = None

    def plan(self, key, size):
        with self._lock:
            self._plan.append((key, size))
            return partial(self._open, len(self._plan) - 1)

    def _open(self, index):
        key, size = self._plan[index]
        with self._lock:
            for skipped in [i for i in self._waiting if i < index]:
                self._drop(skipped).cancel()
            future = self._drop(index)
            self._next = max(self._next, index + 1)
            self._schedule()
        if size > STREAM_ABOVE:
            return self._stream(key)
        return io.BytesIO(future.result() if future is not None else self._fetch(key))

    def _schedule(self):
        while self._next < len(self._plan) and len(self._waiting) < self._max_files:
            key, size = self._plan[self._next]
            if size <= STREAM_ABOVE:
                if self._waiting and self._waiting_bytes + size > self._max_bytes:
                    return
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="s3-read-ahead")
                self._waiting[self._next] = self._pool.submit(self._fetch, key)
                self._waiting_bytes += size
            self._next += 1

    def _drop(self, index):
        """No longer wait for object ``index``: its Future, or None if it was not scheduled."""
        future = self._waiting.pop(index, None)
        if future is not None:
            self._waiting_bytes -= self._plan[index][1]
        return future

    def close(self):
        with self._lock:
            for index in list(self._waiting):
                self._drop(index).cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
