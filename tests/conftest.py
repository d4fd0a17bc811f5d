"""Shared fixtures: a PostgreSQL, a clean schema per test module, the loader's work split, a fake AWS.

The tests run against the embedded PostgreSQL, started once per session in a
temporary folder, or against ``DWH_DSN`` when it is set. Each test module gets
a schema of its own, created fresh, so modules cannot see each other's tables.

Only fixtures and hooks live here; what test modules import (records, source
folders, the Warehouse class, run_script) is in helpers.py.
"""

import os
import re
import shutil
import signal

import boto3
import pytest
from helpers import MY_CIDR, PASSWORD, PROJECT_DIR, Warehouse
from hypothesis import settings
from moto import mock_aws

from sparkify import config
from sparkify.engines import embedded as local_postgres
from sparkify.engines.embedded import fresh_schema
from sparkify.engines.local_loader import staging as staging_loader

# Property-based tests: no per-example deadline (a loaded CI machine must not turn a slow example into a
# failure; the tests that need a bound on time say so themselves), and the blob to reproduce a failure.
# `pytest --hypothesis-profile=thorough` tries 1,000 examples where a test does not set its own count.
settings.register_profile("project", deadline=None, print_blob=True)
settings.register_profile("thorough", parent=settings.get_profile("project"), max_examples=1000)
settings.load_profile("project")

# A shell starts a background job (`.ci/run &`) with SIGINT ignored, and Python then leaves it ignored, in this
# process and in the scripts the tests start: the tests of Ctrl-C would see it do nothing. Handled here, as in a
# terminal, it reaches the scripts as Ctrl-C does (a handler, unlike "ignored", does not pass to a child).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def dsn(tmp_path_factory):
    """A PostgreSQL to test on: $DWH_DSN, or an embedded server of the session's own.

    The embedded server is stopped at the end and its folder deleted: after a
    whole run it holds some 350 MB, most of it write-ahead log.
    """
    if os.environ.get("DWH_DSN"):
        yield os.environ["DWH_DSN"]
        return
    folder = tmp_path_factory.mktemp("embedded")
    pgdata = folder / "pgdata"
    yield local_postgres.start(pgdata)
    local_postgres.stop(pgdata)
    if not (pgdata / "postmaster.pid").exists():  # a server that another process still holds keeps its folder
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def warehouse(dsn, request):
    """A fresh schema for this test module, with the tables created."""
    schema = "test_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])
    warehouse = Warehouse(fresh_schema(dsn, schema))
    warehouse.create()
    yield warehouse
    warehouse.connection.close()


@pytest.fixture
def environment(tmp_path):
    """For a script run as a subprocess: no DWH_DSN, and an empty config file: the target is what the arguments say
    (test modules may override it)."""
    variables = {name: value for name, value in os.environ.items()
                 if name not in ("DWH_DSN", "DWH_DB_PASSWORD", "DWH_DEPLOYMENT")}
    (tmp_path / "empty-dwh.cfg").write_text("")
    variables["DWH_CONFIG"] = str(tmp_path / "empty-dwh.cfg")
    return variables


@pytest.fixture(params=["whole files", "cut into tasks", "worker processes"])
def staging_mode(request, monkeypatch):
    """How the loader splits its work: the result must not depend on it."""
    if request.param != "whole files":
        monkeypatch.setattr(staging_loader, "SMALL_FILE_BYTES", 0)  # every file is cut into ranges
        monkeypatch.setattr(staging_loader, "TASK_BYTES", 97)  # a few lines each, cut anywhere
    if request.param == "worker processes":
        monkeypatch.setattr(staging_loader, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(staging_loader, "default_workers", lambda: 2)
    return request.param


# ---------------------------------------------------------------------------
# cluster.py against moto (test_cluster.py, test_serverless.py)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session():
    # One session for the module: each new one parses the service models again (about 0.4 s).
    return boto3.Session(region_name="us-west-2")


@pytest.fixture
def aws(monkeypatch, session):
    """An in-process fake AWS, fresh for each test, and the environment a person would have."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name in ("DWH_CONFIG", "DWH_DSN", "DWH_DEPLOYMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("DWH_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # seconds per test, and no AMI is used
    with mock_aws():
        yield session


@pytest.fixture
def make_settings(tmp_path):
    """Settings from a copy of dwh.cfg.example, with [DWH] keys overridden."""
    def make(**dwh):
        path = tmp_path / "dwh.cfg"
        shutil.copy(PROJECT_DIR / "dwh.cfg.example", path)
        config.write_keys(path, {"DWH": {"INGRESS_CIDR": MY_CIDR, **dwh}})
        return config.load_settings(path)
    return make
