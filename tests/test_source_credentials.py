"""A key written into a source location (s3://KEY:SECRET@bucket) is refused where the location is read, never shown.

boto3 takes no credentials from a URL, and a COPY would carry them into
Redshift's query log, so such a location is a mistake: every command refuses
it with one line that hides everything before the bucket name. Hypothesis
writes the URLs (any scheme's case, secrets holding / and +, a key alone, the
ways a user pastes them) and each goes through every way a location reaches
output: etl.py's error and --json, the dry run of either engine, doctor.py,
the [S3] keys of the config (which cluster.py reads too) and AWS_ENDPOINT_URL.
"""

import configparser
import contextlib
import io
import json
import string
import tempfile
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from failure_cases import FAILURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import doctor as doctor_command
import etl
from sparkify.config import TargetError, load_settings, parse, without_credentials
from sparkify.sources import SourceError
from sparkify.sources.s3 import S3Source, explain

KEYS = st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=20).map(lambda key: "AKIA" + key)
SECRETS = st.text(string.ascii_letters + string.digits + "/+", min_size=20, max_size=40)  # as AWS writes them
BUCKETS = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)
PREFIXES = st.from_regex(r"(/[A-Za-z0-9_.-]{1,12}){0,3}/?", fullmatch=True)
SCHEMES = st.sampled_from(["s3", "S3", "s3a", "https"])


@st.composite
def urls_with_credentials(draw):
    """(a location holding credentials, the texts that must never be shown)."""
    scheme, key, secret = draw(SCHEMES), draw(KEYS), draw(SECRETS)
    bucket, prefix = draw(BUCKETS), draw(PREFIXES)
    userinfo, hidden = draw(st.sampled_from([
        (f"{key}:{secret}", [key, secret]),
        (key, [key]),  # a key alone
        (f"{key}:{secret.replace('/', '%2F')}", [key, secret.replace("/", "%2F")]),  # percent-encoded
    ]))
    spaces = draw(st.sampled_from(["", " "]))  # pasted with a space around it
    return f"{spaces}{scheme}://{userinfo}@{bucket}{prefix}{spaces}", hidden


def config_file(folder, **s3):
    """A dwh.cfg for Redshift whose [S3] keys are ``s3``."""
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str.upper
    parsed.read_dict({
        "IAM_ROLE": {"ARN": "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"},
        "S3": {"LOG_DATA": "s3://udacity-dend/log_data", "SONG_DATA": "s3://udacity-dend/song_data",
               "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json", **s3},
        "DWH": {"REGION": "us-west-2"},
    })
    path = Path(folder) / "dwh.cfg"
    with open(path, "w", encoding="utf-8") as stream:
        parsed.write(stream)
    return str(path)


def run(command, argv):
    """(exit status, everything it printed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = command(argv)
    return status, out.getvalue() + err.getvalue()


def assert_hidden(text, hidden):
    for secret in hidden:
        assert secret not in text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(urls_with_credentials())
def test_credentials_in_a_source_location_never_reach_any_output(warehouse, case):
    url, hidden = case
    with tempfile.TemporaryDirectory() as folder:
        results = folder + "/run.json"
        outputs = {
            "etl.py": run(etl.main, ["--dsn", warehouse.dsn, "--source", url, "--json", results]),
            "etl.py --json -": run(etl.main, ["--dsn", warehouse.dsn, "--source", url, "--json", "-"]),
            "etl.py --dry-run": run(etl.main, ["--dry-run", "--source", url]),
            "etl.py --dry-run --engine postgres": run(etl.main, ["--dry-run", "--engine", "postgres", "--source", url]),
            "doctor.py": run(doctor_command.main, ["--dsn", warehouse.dsn, "--source", url]),
        }
        for key in ("LOG_DATA", "SONG_DATA", "LOG_JSONPATH"):
            outputs[f"[S3] {key}"] = run(etl.main, ["--dry-run", "--config", config_file(folder, **{key: url})])
        outputs["[S3] MANIFEST_PREFIX"] = run(etl.main, [
            "--dry-run", "--incremental", "--config", config_file(folder, MANIFEST_PREFIX=url)])
        outputs["[S3] ENDPOINT_URL"] = run(etl.main, [
            "--dsn", warehouse.dsn, "--config", config_file(folder, ENDPOINT_URL=url), "--source", "s3://bucket"])
        with open(results, encoding="utf-8") as stream:
            document = stream.read()
        with pytest.raises(TargetError) as refused:  # what every script, cluster.py too, reads the config with
            load_settings(config_file(folder, LOG_DATA=url))
        with pytest.raises(TargetError) as refused_variable:
            parse({}, {"AWS_ENDPOINT_URL": url})
    case = FAILURES["credentials in a source location (`s3://KEY:SECRET@bucket`)"]
    for name, (status, printed) in outputs.items():
        assert status == case.exit_code, (name, printed)  # doctor.py too: a configuration problem
        assert case.message in printed, (name, printed)
        assert_hidden(printed, hidden)
    assert json.loads(document)["error"].startswith("error: --source ")
    assert_hidden(document, hidden)
    assert_hidden(str(refused.value), hidden)
    assert_hidden(str(refused_variable.value), hidden)


@settings(max_examples=50, deadline=None)
@given(urls_with_credentials())
def test_a_location_with_credentials_is_refused_where_it_is_read_without_showing_them(case):
    url, hidden = case
    with pytest.raises(TargetError) as refused:
        without_credentials(url, "--source")
    assert_hidden(str(refused.value), hidden)
    if url.strip().startswith("s3://"):
        with pytest.raises(SourceError) as refused:
            S3Source(url.strip(), client=object())
        assert_hidden(str(refused.value), hidden)


@pytest.mark.parametrize("location", [
    "s3://udacity-dend", "s3://my-bucket/team@example.com/sparkify/", "data/sample", "/srv/me@host/source",
    "http://127.0.0.1:9000", "https://minio.example.com:9000/",
])
def test_a_location_without_credentials_is_taken_as_it_is(location):
    assert without_credentials(location, "--source") == location


def test_an_unreachable_endpoint_is_named_without_its_credentials():
    error = EndpointConnectionError(endpoint_url="http://minio:Sup3rSecretKey@127.0.0.1:9/bucket")
    message = str(explain(error, "s3://bucket/log_data"))
    assert "Sup3rSecretKey" not in message
    assert "could not reach S3 at http://127.0.0.1:9" in message
