"""creating_cluster.ipynb: committed clean, and run from the first cell through teardown.

The notebook runs headless with the command the README gives people,
``python -m sparkify.analytics.try_notebook``: a real kernel, its AWS calls
going to a moto server on a loopback port and its SQL to a throwaway embedded
PostgreSQL, with DWH_TEARDOWN=1. It runs in a copy of the project holding a
dwh.cfg and a .pgdata of its own, to show that it leaves both alone.
"""

import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from helpers import BUNDLED_SAMPLE, PROJECT_DIR, event, song, write_source

from sparkify import api, config
from sparkify.analytics import questions
from sparkify.engines import connect, detect_engine
from sparkify.output.summary import summary

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


def test_the_parameters_come_from_the_environment_and_the_settings_from_sparkify_config():
    cells = read_notebook().cells
    [parameters] = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    [table] = [cell for cell in cells if "| variable | what it does | default |" in cell.source]
    for variable in ("DWH_CONFIG", "DWH_DEPLOYMENT", "DWH_TEARDOWN", "DWH_RECREATE_TABLES"):
        assert variable in parameters.source
    for variable in ("DWH_CONFIG", "DWH_DEPLOYMENT", "DWH_DSN", "DWH_TEARDOWN", "DWH_RECREATE_TABLES",
                     "AWS_ENDPOINT_URL"):
        assert f"`{variable}`" in table.source
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    # What stands in for dwh.cfg is read by sparkify.config alone, as for the scripts.
    for variable in ("DWH_CONFIG", "DWH_DEPLOYMENT", "DWH_DSN", "DWH_DB_PASSWORD", "AWS_ENDPOINT_URL"):
        assert f'environ.get("{variable}")' not in code and f"environ.get('{variable}')" not in code
    assert "load_settings(CONFIG).with_deployment(DEPLOYMENT)" in code
    assert "configparser" not in code and "read_settings" not in code


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
    assert fake.calls == ["close", "cost_text"]
    namespace["TEARDOWN"] = True
    exec(last.source, namespace)
    assert "teardown" in fake.calls


def load_cell():
    [cell] = [cell for cell in read_notebook().cells if "create_tables(db, engine" in cell.source]
    return cell.source


def settings_reading(dsn):
    """load_settings() as the notebook calls it, for a $DWH_DSN of ``dsn`` and no config file."""
    return lambda config_file=None: config.parse({}, {"DWH_DSN": dsn})


def test_the_notebook_refuses_to_recreate_the_tables_of_a_warehouse_that_holds_plays(warehouse, tmp_path):
    warehouse.load(write_source(tmp_path, events=[event(), event(sessionId=2, ts=1541106400000)], songs=[song()]))
    namespace = {"CONFIG": None, "DEPLOYMENT": None, "RECREATE_TABLES": False, "connection": connect,
                 "load_settings": settings_reading(warehouse.dsn), "detect_engine": detect_engine,
                 "api": api, "summary": summary}
    with pytest.raises(RuntimeError, match="already holds 2 plays: this cell would drop them. Set "
                                           "DWH_RECREATE_TABLES=1"):
        exec(load_cell(), namespace)
    namespace["db"].close()
    assert warehouse.count("songplay_table") == 2


# The local user's own files, which the notebook's local run must leave alone.
USERS_CONFIG = """[CLUSTER]
HOST=my-cluster.abc123xyz789.us-west-2.redshift.amazonaws.example
DB_NAME=dev
DB_USER=me
DB_PORT=5439
"""
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "venv", ".pgdata", "notebook-output", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache")


@pytest.fixture
def project_copy(tmp_path):
    """The project, with the user's dwh.cfg (a cluster) and a default .pgdata of its own."""
    copy = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, copy, ignore=NOT_COPIED)
    (copy / "dwh.cfg").write_text(USERS_CONFIG)
    (copy / ".pgdata").mkdir()
    (copy / ".pgdata" / "PG_VERSION").write_text("18\n")
    return copy


def files(folder):
    """Every file below the folder with its size and modification time (caches left out)."""
    return {
        (str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and "notebook-output" not in path.parts
    }


def test_the_local_command_runs_the_notebook_through_teardown_and_leaves_the_user_s_files_alone(project_copy):
    if not BUNDLED_SAMPLE.exists():
        pytest.skip("data/sample is not there")
    before = files(project_copy)
    variables = {name: value for name, value in os.environ.items() if not name.startswith(("DWH_", "AWS_"))}
    result = subprocess.run([sys.executable, "-m", "sparkify.analytics.try_notebook"], cwd=project_copy,
                            env=variables, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr

    out = project_copy / "notebook-output"
    assert f"The executed notebook, with its charts: {out / 'creating_cluster.html'}\n" in result.stdout
    notebook = nbformat.read(out / "creating_cluster.ipynb", as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(output.get("text", "") for output in outputs)
    assert "cluster sparkify is available after" in text
    assert "All 14 checks passed" in text
    assert "security group sparkify-redshift: deleted" in text
    assert "cluster: none\nrole: none\nsecurity group: none" in text
    charts = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(charts) == 8, "one chart per question"
    assert "Throwaway2018" not in (out / "creating_cluster.html").read_text() + result.stdout + result.stderr

    # The user's dwh.cfg and default warehouse are as they were, and nothing else changed in the project.
    assert (project_copy / "dwh.cfg").read_text() == USERS_CONFIG
    assert files(project_copy) == before


def test_the_checks_table_shows_whole_numbers_and_blanks():
    [cell] = [cell for cell in read_notebook().cells if "checks = pd.DataFrame(" in cell.source]
    namespace = {}
    exec(cell.source.split("checks = pd.DataFrame(")[0], namespace)
    assert [namespace["count"](value) for value in (2349.0, 52, None)] == [2349, 52, ""]


def test_the_load_errors_cell_reads_rejected_records_on_either_engine(warehouse, tmp_path):
    """Serverless has no stl_load_errors; both engines keep what a load rejected in rejected_records."""
    [cell] = [cell for cell in read_notebook().cells if 'analytics.ask(db, "rejected_records")' in cell.source]
    assert "stl_load_errors" not in cell.source and "postgres" not in cell.source  # no question of the engine
    warehouse.load(write_source(tmp_path, events=[event(), event(sessionId="not a number")], songs=[song()]),
                   max_errors=1)
    namespace = {"db": warehouse.connection, "analytics": questions, "print": lambda *args: None}
    exec(cell.source, namespace)
    rejected = namespace["rejected"]
    assert list(rejected["column_name"]) == ["session_id"]


@pytest.mark.parametrize("deployment, expected", [
    ("provisioned", "about $1.09 an hour, $26 a day while running"),
    ("serverless", "billed per RPU-hour only while queries run"),
])
def test_the_notebook_states_the_cost_of_the_deployment_it_was_given(tmp_path, deployment, expected):
    from sparkify.aws import cluster

    path = tmp_path / "dwh.cfg"
    shutil.copy(PROJECT_DIR / "dwh.cfg.example", path)
    settings = config.load_settings(path, environ={}).with_deployment(deployment)
    assert settings.redshift.deployment == deployment
    text = cluster.cost_text(settings)
    assert expected in text
    if deployment == "serverless":
        assert "usage limit 16 RPU-hours a day (about $6.00, 2 h of queries at 8 RPUs)" in text
    with pytest.raises(config.TargetError, match="provisioned or serverless"):
        settings.with_deployment("dc2")


def test_the_local_run_is_provisioned_and_says_so_when_asked_for_serverless(monkeypatch, capsys, tmp_path):
    from sparkify.analytics import try_notebook

    assert try_notebook.environment(tmp_path / "c", "dsn", "http://x")["DWH_DEPLOYMENT"] == "provisioned"
    monkeypatch.setenv("DWH_DEPLOYMENT", "serverless")
    monkeypatch.setattr(try_notebook, "fake_aws", lambda: (_ for _ in ()).throw(try_notebook.Missing("stop here")))
    assert try_notebook.run(tmp_path / "out") == 2
    assert "covers the provisioned deployment only" in capsys.readouterr().err
