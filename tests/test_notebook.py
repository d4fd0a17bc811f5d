"""creating_cluster.ipynb: committed clean, and run from the first cell through teardown.

The notebook runs headless in a real kernel (the venv's python), its AWS calls
going to a moto server on a loopback port and its SQL to a fresh schema of the
test PostgreSQL, exactly as a person runs it but with DWH_TEARDOWN=1.
"""

import logging
import re
import shutil
import subprocess
import urllib.request

import boto3
import nbformat
import pytest
from conftest import BUNDLED_SAMPLE, PROJECT_DIR
from moto.server import ThreadedMotoServer
from nbclient import NotebookClient

from sparkify.aws import cluster

NOTEBOOK = PROJECT_DIR / "creating_cluster.ipynb"
STRIP = "nbstripout creating_cluster.ipynb (or `nbstripout --install` once, so git does it)"


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_notebook_is_committed_without_outputs_or_execution_counts():
    notebook = read_notebook()
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs: run {STRIP}"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count: run {STRIP}"
        assert set(cell.metadata) <= {"tags"}, f"cell {cell.id} has metadata {sorted(cell.metadata)}: run {STRIP}"


def test_the_notebook_holds_no_endpoint_account_id_or_key():
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert not re.search(r"[\w-]+\.[\w-]+\.[\w-]+\.redshift\.amazonaws\.com", text), "a cluster endpoint"
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text), "an AWS account id"
    assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), "an AWS access key"
    assert not re.search(r"PASSWORD\s*=\s*['\"]?[^\s.'\"`]", text), "a password"


def test_the_parameters_come_from_the_environment():
    [parameters] = [cell for cell in read_notebook().cells if "parameters" in cell.metadata.get("tags", [])]
    for variable in ("DWH_CONFIG", "DWH_DSN", "DWH_TEARDOWN", "AWS_ENDPOINT_URL"):
        assert variable in parameters.source


class Recorder:
    """Stands for the modules and objects the teardown cell uses, and notes what is called."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append(name) or ""


def test_without_dwh_teardown_the_last_cell_keeps_the_cluster():
    [last] = [cell for cell in read_notebook().cells if cell.cell_type == "code"][-1:]
    fake = Recorder()
    namespace = {"TEARDOWN": False, "db": fake, "cluster": fake, "settings": fake, "print": lambda *args: None}
    exec(last.source, namespace)
    assert fake.calls == ["close", "hourly_cost_text"]
    namespace["TEARDOWN"] = True
    exec(last.source, namespace)
    assert "teardown" in fake.calls


@pytest.fixture
def moto_server(monkeypatch):
    """A fake AWS on a free loopback port, and an environment that points boto3 at it."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps one state per process: start from an empty AWS, whatever other tests made
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield endpoint
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    server.stop()


def untracked_files():
    """Files in the project that git neither tracks nor ignores."""
    listing = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=PROJECT_DIR,
                             capture_output=True, text=True, check=True)
    return set(listing.stdout.splitlines())


def test_the_notebook_runs_from_the_first_cell_through_teardown(moto_server, warehouse, tmp_path, monkeypatch):
    if not BUNDLED_SAMPLE.exists():
        pytest.skip("data/sample is not there")
    config = tmp_path / "dwh.cfg"
    shutil.copy(PROJECT_DIR / "dwh.cfg.example", config)
    cluster.update_config(config, {"DWH": {"INGRESS_CIDR": "203.0.113.7/32", "OWNER": "ci"}})
    before = config.read_text()
    monkeypatch.setenv("DWH_CONFIG", str(config))
    monkeypatch.setenv("DWH_DSN", warehouse.dsn)
    monkeypatch.setenv("DWH_TEARDOWN", "1")
    monkeypatch.setenv("DWH_DB_PASSWORD", "Sparkify2018ok")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    untracked = untracked_files()

    notebook = read_notebook()
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(PROJECT_DIR)}}).execute()

    outputs = {cell.id: cell.outputs for cell in notebook.cells if cell.cell_type == "code"}
    text = "\n".join(output.get("text", "") for cell in outputs.values() for output in cell)
    assert "cluster sparkify is available after" in text
    assert "All 14 checks passed" in text
    assert "security group sparkify-redshift: deleted" in text
    assert "cluster: none\nrole: none\nsecurity group: none" in text
    assert "Sparkify2018ok" not in text
    charts = [output for cell in outputs.values() for output in cell if "image/png" in output.get("data", {})]
    assert len(charts) == 8, "one chart per question"

    # The SQL went to DWH_DSN; the AWS calls to moto, and nothing is left there.
    assert warehouse.count("songplay_table") > 0
    aws = boto3.Session(region_name="us-west-2")
    assert aws.client("redshift").describe_clusters()["Clusters"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    groups = aws.client("ec2").describe_security_groups()["SecurityGroups"]
    assert [group["GroupName"] for group in groups if group["GroupName"] != "default"] == []

    # No file left behind, and the config is as it was (the endpoint written, then cleared).
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dwh.cfg"]
    assert config.read_text() == before
    assert untracked_files() == untracked
