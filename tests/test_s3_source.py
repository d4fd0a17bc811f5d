"""S3 as a source for the local target, against moto's S3 server on a loopback port."""

import threading
import time

import moto.settings
import pytest
from botocore.exceptions import ReadTimeoutError
from helpers import BUNDLED_SAMPLE, UDACITY_SAMPLE, event, run_script, song, write_source
from s3_fixtures import FAKE_AWS, NO_CREDENTIALS, environment, make_bucket, moto_server, s3, upload

import etl
from sparkify.checks import doctor
from sparkify.sources import SourceError, jsonpaths, open_source
from sparkify.sources.folder import LocalSource
from sparkify.sources.s3 import STREAM_ABOVE, ReadAhead, S3Source, parse_s3_url

BUCKET = "sparkify-s3-source"
SAMPLES = {"bundled": BUNDLED_SAMPLE, "udacity": UDACITY_SAMPLE}


@pytest.fixture(scope="module")
def endpoint():
    with environment(FAKE_AWS), moto_server() as url:
        make_bucket(url, BUCKET)
        yield url


@pytest.fixture(scope="module")
def samples_in_s3(endpoint):
    """Each sample that is there, uploaded below s3://BUCKET/<name>; a private copy of one too."""
    uploaded = {}
    for name, folder in SAMPLES.items():
        if folder.exists():
            upload(endpoint, folder, BUCKET, name, public=True)
            uploaded[name] = f"s3://{BUCKET}/{name}"
    return uploaded


@pytest.fixture(scope="module")
def small_sources(endpoint, tmp_path_factory):
    """A small source in S3, and a private copy that only credentials may read."""
    folder = write_source(tmp_path_factory.mktemp("small"), events=[event(), event(itemInSession=2)], songs=[song()])
    upload(endpoint, folder, BUCKET, "small")
    upload(endpoint, folder, BUCKET, "private")
    return f"s3://{BUCKET}/small", f"s3://{BUCKET}/private"


@pytest.fixture
def empty_config(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text("")
    return str(path)


@pytest.mark.parametrize(
    "url, bucket, prefix",
    [
        ("s3://udacity-dend", "udacity-dend", ""),
        ("s3://udacity-dend/", "udacity-dend", ""),
        ("s3://my-bucket/some/prefix/", "my-bucket", "some/prefix"),
    ],
)
def test_parse_s3_url(url, bucket, prefix):
    assert parse_s3_url(url) == (bucket, prefix)


@pytest.mark.parametrize("name", SAMPLES)
def test_a_sample_loads_identically_from_its_folder_and_from_s3(warehouse, endpoint, samples_in_s3, name):
    if name not in samples_in_s3:
        pytest.skip(f"{SAMPLES[name]} is not there")
    warehouse.load(SAMPLES[name])
    from_folder = warehouse.snapshot()
    source = open_source(samples_in_s3[name], endpoint_url=endpoint)
    result = warehouse.load(source)
    assert warehouse.snapshot() == from_folder
    assert [len(load.rejected) for load in result.loads] == [0, 0]
    assert result.committed and result.source == samples_in_s3[name]


def test_listing_reads_every_page_and_names_files_as_the_folder_does(endpoint, samples_in_s3):
    if "bundled" not in samples_in_s3:
        pytest.skip("data/sample is not there")
    source = S3Source(samples_in_s3["bundled"], endpoint_url=endpoint, page_size=7)
    folder = LocalSource(BUNDLED_SAMPLE)
    for prefix in ("log_data", "song_data"):
        listed = [(item.name, item.size) for item in source.files(prefix)]
        assert listed == sorted((item.name, item.size) for item in folder.files(prefix))
        assert len(listed) > 7
    assert source.files("no_such_folder") == []
    assert source.read_bytes("log_json_path.json", 4096) == (BUNDLED_SAMPLE / "log_json_path.json").read_bytes()


def test_a_public_bucket_reads_without_credentials(endpoint, samples_in_s3):
    if "bundled" not in samples_in_s3:
        pytest.skip("data/sample is not there")
    with environment(NO_CREDENTIALS):
        source = S3Source(samples_in_s3["bundled"], endpoint_url=endpoint)
        assert source.anonymous
        [first, *_] = source.files("log_data")
        with first.open() as stream:
            assert stream.read() == (BUNDLED_SAMPLE / first.name).read_bytes()


# ---------------------------------------------------------------------------
# Reading ahead
# ---------------------------------------------------------------------------


class FakeStore:
    """A fetch function that takes a while and counts how many run at once."""

    def __init__(self, delay=0.005):
        self.delay = delay
        self.started = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def fetch(self, key):
        with self.lock:
            self.started.append(key)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        return f"content of {key}".encode()

    def stream(self, key):
        return open(__file__, "rb")


@pytest.mark.parametrize("max_files, max_bytes, size", [(16, 10**6, 10), (64, 50, 10)])
def test_read_ahead_fetches_in_parallel_and_bounds_what_waits(max_files, max_bytes, size):
    store = FakeStore()
    ahead = ReadAhead(store.fetch, store.stream, workers=8, max_files=max_files, max_bytes=max_bytes)
    opens = [ahead.plan(f"key{number}", size) for number in range(200)]
    held_at_most = min(max_files, max(1, max_bytes // size))
    contents = []
    for number, open_file in enumerate(opens):
        with open_file() as stream:
            contents.append(stream.read())
        assert len(store.started) <= number + 1 + held_at_most
    assert contents == [f"content of key{number}".encode() for number in range(200)]
    assert store.most_at_once > 1
    ahead.close()


def test_read_ahead_streams_large_objects_and_serves_any_order():
    store = FakeStore(delay=0)
    ahead = ReadAhead(store.fetch, store.stream, workers=2, max_files=4, max_bytes=10**6)
    small, large, last = ahead.plan("small", 10), ahead.plan("large", STREAM_ABOVE + 1), ahead.plan("last", 10)
    with last() as stream:
        assert stream.read() == b"content of last"
    with small() as stream:
        assert stream.read() == b"content of small"
    with large() as stream:
        assert stream.read(10) == open(__file__, "rb").read(10)
    assert "large" not in store.started
    ahead.close()


# ---------------------------------------------------------------------------
# Errors a person can act on, one line each
# ---------------------------------------------------------------------------


def run_etl(capsys, *args):
    code = etl.main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    "location, message",
    [
        pytest.param("s3://no-such-bucket-here/x", "s3://no-such-bucket-here: no such bucket: check the bucket name",
                     id="missing bucket"),
        pytest.param(f"s3://{BUCKET}/nothing-here", f"s3://{BUCKET}/nothing-here: nothing is stored under this prefix",
                     id="missing prefix"),
        pytest.param(f"s3://{BUCKET}/empty", f"s3://{BUCKET}/empty holds no log_data/**.json and no song_data/**.json",
                     id="empty prefix"),
    ],
)
def test_a_source_that_is_not_there_is_one_clear_line(
    warehouse, endpoint, empty_config, capsys, monkeypatch, location, message
):
    s3(endpoint).put_object(Bucket=BUCKET, Key="empty/", Body=b"")
    s3(endpoint).put_object(Bucket=BUCKET, Key="empty/README.txt", Body=b"nothing here")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code, err = run_etl(capsys, "--dsn", warehouse.dsn, "--config", empty_config, "--source", location,
                        "--replace-source")
    assert code == 1
    assert err.splitlines()[0].startswith(f"error: {message}")
    assert err.splitlines()[1:] == ["Nothing was committed: the previous warehouse is unchanged."]


def test_reading_private_objects_without_credentials_says_so(warehouse, endpoint, small_sources, empty_config,
                                                             capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with environment(NO_CREDENTIALS):
        code, err = run_etl(capsys, "--dsn", warehouse.dsn, "--config", empty_config,
                            "--source", f"s3://{BUCKET}/private", "--replace-source")
    assert code == 1
    assert err.splitlines()[0] == (
        f"error: s3://{BUCKET}/private/log_json_path.json: access denied: no AWS credentials are configured, "
        "so the request was anonymous: configure credentials that may read it (aws configure, or AWS_PROFILE)"
    )
    assert len(err.splitlines()) == 2


def test_refused_credentials_say_so(warehouse, endpoint, empty_config, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    code, err = run_etl(capsys, "--dsn", warehouse.dsn, "--config", empty_config, "--source", f"s3://{BUCKET}/x")
    assert code == 1
    assert err.splitlines()[0] == (
        f"error: s3://{BUCKET}/x: S3 refused the AWS credentials (InvalidAccessKeyId): check or renew them"
    )


def test_etl_loads_from_s3_on_the_command_line(warehouse, endpoint, small_sources, empty_config, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    small, _ = small_sources
    result = run_script("etl.py", "--dsn", warehouse.dsn, "--config", empty_config, "--source", small,
                        "--replace-source")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"Source: {small}"
    assert lines[-1].startswith("All 14 checks passed")


# ---------------------------------------------------------------------------
# Bounded reads: an object is never read past what it may be
# ---------------------------------------------------------------------------


class Body:
    """An object's body that records how much was asked of it, and may fail."""

    def __init__(self, data, error=None):
        self.data, self.error, self.asked, self.closed = data, error, [], False

    def read(self, size=None):
        self.asked.append(size)
        if self.error is not None:
            raise self.error
        return self.data if size is None else self.data[:size]

    def close(self):
        self.closed = True


class OneObject:
    """A client holding one object, whose size S3 reports as ``size`` (None: not reported)."""

    def __init__(self, body, size):
        self.body, self.size = body, size

    def get_object(self, Bucket, Key):
        response = {"Body": self.body}
        if self.size is not None:
            response["ContentLength"] = self.size
        return response


@pytest.mark.parametrize("reported", [10**12, None], ids=["size reported", "size not reported"])
def test_an_object_over_its_limit_is_refused_and_never_read_whole(reported):
    body = Body(b"x" * 10_000)
    source = S3Source(f"s3://{BUCKET}/big", client=OneObject(body, reported))
    with pytest.raises(SourceError) as refused:
        source.read_bytes("log_json_path.json", 100)
    assert str(refused.value).startswith(f"s3://{BUCKET}/big/log_json_path.json is ")
    assert "larger than the 100 it may be here" in str(refused.value)
    assert body.asked == ([] if reported else [101])  # the size first; else never more than the limit and one
    assert body.closed or not reported


def test_an_object_that_grew_past_its_listed_size_is_never_fetched_whole():
    body = Body(b"")
    source = S3Source(f"s3://{BUCKET}/grown", client=OneObject(body, STREAM_ABOVE + 1))
    with pytest.raises(SourceError, match=f"s3://{BUCKET}/grown/log_data/a.json is "):
        source._fetch(source.key("log_data/a.json"))
    assert body.asked == []


def test_a_body_that_breaks_mid_read_names_the_object():
    broken = Body(b"", error=ReadTimeoutError(endpoint_url="http://127.0.0.1:9"))
    source = S3Source(f"s3://{BUCKET}/slow", client=OneObject(broken, STREAM_ABOVE * 2))
    with source._stream(source.key("log_data/big.json")) as stream, pytest.raises(SourceError) as failed:
        stream.read(1024)
    assert str(failed.value).startswith(f"s3://{BUCKET}/slow/log_data/big.json: ")


def test_a_jsonpaths_object_over_the_limit_fails_etl_and_doctor_in_one_line(
    warehouse, endpoint, small_sources, empty_config, capsys, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setattr(jsonpaths, "MAX_JSONPATHS_BYTES", 64)
    small, _ = small_sources
    expected = f"{small}/log_json_path.json is "
    code, err = run_etl(capsys, "--dsn", warehouse.dsn, "--config", empty_config, "--source", small, "--full")
    assert code == 1
    assert err.splitlines()[0].startswith(f"error: {expected}")
    assert "larger than the 64 it may be here" in err.splitlines()[0]
    finding = doctor.check_jsonpaths(S3Source(small, endpoint_url=endpoint), "log_json_path.json", 18)
    assert str(finding).startswith(f"FAIL  {expected}")
