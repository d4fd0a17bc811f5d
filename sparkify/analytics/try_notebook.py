"""Run creating_cluster.ipynb end to end on this machine, with nothing real at stake.

    .venv/bin/pip install -r requirements-dev.txt        # moto, the fake AWS
    .venv/bin/python -m sparkify.analytics.try_notebook   # writes notebook-output/creating_cluster.{ipynb,html}

Its AWS calls go to moto's server on a loopback port (a fake AWS: the cluster,
the role and the security group are made and deleted there); its SQL goes to
a throwaway embedded PostgreSQL in a temporary folder of its own, loaded with
the bundled sample. Its config is a temporary copy of dwh.cfg.example. So
your dwh.cfg, your .pgdata and your AWS account are never touched. Teardown is
on. The executed notebook, charts and all, is written as .ipynb and as .html
(open it in a browser), and its path printed.

The local run covers the provisioned deployment only: moto has no Redshift
Serverless, so the kernel gets DWH_DEPLOYMENT=provisioned whatever your
environment says, and this says so when you asked for serverless. The
Serverless calls are tested against botocore's Stubber instead
(tests/test_serverless.py), which checks each request against the service's
API model but cannot run a notebook's workgroup.

Exit status: 0 the notebook ran through; 1 a cell failed (the notebook up to
that cell is written all the same); 2 moto or Jupyter is not installed.
"""

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from sparkify.config import TargetError, environment_deployment, write_keys
from sparkify.engines import embedded

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOTEBOOK = PROJECT_DIR / "creating_cluster.ipynb"
DEFAULT_OUT = PROJECT_DIR / "notebook-output"
# A made-up password that meets Redshift's rules: the fake cluster needs one, and it is never printed.
THROWAWAY_PASSWORD = "Throwaway2018"

# Credentials only moto accepts, and no way for boto3 to find real ones.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-west-2",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_CONFIG_FILE": os.devnull,
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
REAL_AWS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE")


class Missing(Exception):
    """A package the local run needs is not installed."""


def fake_aws():
    """moto's server on a free loopback port, emptied; returns (server, endpoint)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise Missing("the fake AWS (moto) is not installed: .venv/bin/pip install -r requirements-dev.txt") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    return server, endpoint


def environment(config: Path, dsn: str, endpoint: str) -> dict:
    """The kernel's environment: the notebook's parameters, and AWS pointed at moto only."""
    variables = {name: value for name, value in os.environ.items() if name not in REAL_AWS}
    variables.update(FAKE_AWS)
    variables.update({
        "DWH_CONFIG": str(config),
        "DWH_DSN": dsn,
        "DWH_TEARDOWN": "1",
        "DWH_DEPLOYMENT": "provisioned",  # moto has no redshift-serverless: see the module's docstring
        "DWH_DB_PASSWORD": THROWAWAY_PASSWORD,
        "AWS_ENDPOINT_URL": endpoint,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    })
    variables.pop("DWH_RECREATE_TABLES", None)  # a fresh warehouse has nothing to protect
    return variables


def execute(notebook_path: Path, variables: dict, timeout: int = 300):
    """Run every cell in a kernel started with ``variables``; returns (notebook, error or None)."""
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError:
        raise Missing("Jupyter is not installed: .venv/bin/pip install -r requirements.txt") from None
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(PROJECT_DIR)}})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(variables)  # the kernel inherits this process's environment
    try:
        client.execute()
        return notebook, None
    except CellExecutionError as error:
        return notebook, error
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write(notebook, out: Path) -> list[Path]:
    """The executed notebook as .ipynb, and as .html when nbconvert is there."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    written = [out / NOTEBOOK.name]
    nbformat.write(notebook, written[0])
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        return written
    html, _ = HTMLExporter().from_notebook_node(notebook)
    written.append(out / f"{NOTEBOOK.stem}.html")
    written[-1].write_text(html, encoding="utf-8")
    return written


def failed_cell(error) -> str:
    """The last line of a cell's error: 'RuntimeError: ...'."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


LOCAL_IS_PROVISIONED = ("note: DWH_DEPLOYMENT=serverless cannot run here: moto, the fake AWS, has no Redshift "
                       "Serverless. This local run covers the provisioned deployment only; the Serverless calls "
                       "are tested with botocore's Stubber (tests/test_serverless.py).")


def run(out: Path) -> int:
    with contextlib.suppress(TargetError):  # of another form: the kernel gets provisioned all the same
        if environment_deployment() == "serverless":
            print(LOCAL_IS_PROVISIONED, file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-notebook-"))
    server = pgdata = None
    try:
        server, endpoint = fake_aws()
        config = scratch / "dwh.cfg"
        shutil.copy(PROJECT_DIR / "dwh.cfg.example", config)
        # A documentation address: no lookup of this machine's public address for the fake security group
        write_keys(config, {"DWH": {"INGRESS_CIDR": "203.0.113.7/32", "OWNER": "try-notebook"}})
        pgdata = scratch / "pgdata"
        dsn = embedded.start(pgdata)
        print(f"Running {NOTEBOOK.name}: fake AWS at {endpoint}, a throwaway PostgreSQL in {pgdata}, "
              f"config {config} (your dwh.cfg and .pgdata are not used)...", flush=True)
        notebook, error = execute(NOTEBOOK, environment(config, dsn, endpoint))
        written = write(notebook, out)
        opened = written[-1]
        if error is not None:
            print(f"error: the notebook stopped: {failed_cell(error)}; what ran is in {opened}", file=sys.stderr)
            return 1
        print(f"The executed notebook, with its charts: {opened}")
        if len(written) > 1:
            print(f"(and as a notebook: {written[0]})")
        return 0
    except Missing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if pgdata is not None:
            embedded.stop(pgdata)
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkify.analytics.try_notebook",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the executed notebook (default: {DEFAULT_OUT.name}/ in the project)")
    args = parser.parse_args(argv)
    return run(args.out.resolve())


if __name__ == "__main__":
    sys.exit(main())
