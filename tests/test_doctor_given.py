"""doctor.py checks what the person gave it: --dsn or DWH_DSN, or the config's [CLUSTER]; a source fit for the engine.

A security group is something only the config's cluster has: advice about
[CLUSTER] HOST for a DSN given on the command line sends the person to the
wrong place. And a folder given for Redshift, which etl.py refuses, is not a
source that "holds .json files".
"""

import configparser

import pytest
from helpers import event, song, write_source

from sparkify.checks import doctor
from sparkify.config import locations_below, parse
from sparkify.engines import connect as target_connection

UNREACHABLE = "host=127.0.0.1 port=9 dbname=dwh user=me connect_timeout=2"  # the discard port: nothing listens


@pytest.fixture
def config_with_a_cluster(tmp_path, monkeypatch):
    """A dwh.cfg whose [CLUSTER] does not answer either; no waiting between attempts."""
    monkeypatch.setattr(target_connection.time, "sleep", lambda seconds: None)
    monkeypatch.delenv("DWH_DSN", raising=False)
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str.upper
    parsed.read_dict({"CLUSTER": {"HOST": "127.0.0.1", "DB_PORT": "9", "DB_NAME": "dev", "DB_USER": "awsuser",
                                  "DB_PASSWORD": "not-a-real-one", "SSLMODE": "disable"}})
    path = tmp_path / "dwh.cfg"
    with open(path, "w", encoding="utf-8") as stream:
        parsed.write(stream)
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize("given", ["--dsn", "$DWH_DSN"])
def test_a_dsn_that_does_not_answer_is_advised_about_as_a_dsn(config_with_a_cluster, monkeypatch, given):
    if given == "$DWH_DSN":
        monkeypatch.setenv("DWH_DSN", UNREACHABLE)
    findings = doctor.diagnose(dsn=UNREACHABLE if given == "--dsn" else None, config_file=config_with_a_cluster,
                               source="data/sample")
    first = findings[0]
    assert first.status == "FAIL"
    assert first.text.startswith("could not connect to 127.0.0.1:9/dwh as me after 3 attempts")
    assert f"check the host and port of {given}, that the database is running" in first.text
    assert "[CLUSTER]" not in first.text


def test_the_configs_cluster_that_does_not_answer_is_advised_about_as_the_cluster(config_with_a_cluster):
    first = doctor.diagnose(config_file=config_with_a_cluster, source="data/sample")[0]
    assert first.status == "FAIL"
    assert "check [CLUSTER] HOST and DB_PORT, that the cluster is available, and that its security group" in first.text


def test_a_folder_given_for_redshift_is_one_failed_check_as_etl_refuses_it(tmp_path):
    findings = doctor.check_source(parse({}), locations_below(tmp_path), None, with_region=True)
    assert [str(finding) for finding in findings] == [
        f"FAIL  {tmp_path} is not in S3, and Redshift's COPY reads only S3: give --source s3://bucket/prefix, "
        "or set the [S3] paths of the config"
    ]


def test_a_folder_checked_while_the_engine_is_only_guessed_is_checked_as_a_folder(tmp_path, monkeypatch):
    def no_s3(*args, **kwargs):
        raise AssertionError("a folder's checks asked S3")

    monkeypatch.setattr(doctor, "s3_client", no_s3)
    source = write_source(tmp_path / "source", events=[event()], songs=[song()])
    findings = doctor.check_source(parse({}), locations_below(source), None, with_region=True,
                                   s3_only=False)
    assert [finding.status for finding in findings] == ["ok", "ok", "ok"]


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_doctor_makes_no_data_folder_it_only_reads(tmp_path, monkeypatch, folder):
    """--pgdata naming a folder with no warehouse in it: a FAIL line saying how to make one, and the folder
    as it was (no initdb, no server), the source still checked."""
    monkeypatch.delenv("DWH_DSN", raising=False)
    pgdata = tmp_path / "pg"
    if folder == "empty":
        pgdata.mkdir()
    source = write_source(tmp_path / "source", events=[event()], songs=[song()])
    findings = doctor.diagnose(pgdata=str(pgdata), source=str(source))
    assert str(findings[0]).startswith("FAIL  no warehouse in ")
    assert f"create_tables.py --pgdata {pgdata}" in str(findings[0])
    assert any(str(finding).startswith("ok") for finding in findings[1:])  # the source's checks still ran
    assert (list(pgdata.iterdir()) == []) if folder == "empty" else not pgdata.exists()
