"""Configuration and secrets: one clear line for a bad config, and no secret ever printed.

The secrets below are sentinels: every test that runs a script greps what it
printed (stdout and stderr) for them.
"""

import configparser
import re
import subprocess
from pathlib import Path

import psycopg2.extensions
import pytest
from failure_cases import FAILURES, render
from helpers import PROJECT_DIR, event, song, write_source

import create_tables
import etl
from sparkify import config as config_module
from sparkify.engines import connect as connection

PASSWORD = "Pw-sentinel-7f3a9"
AWS_KEY = "AKIA" + "SENTINEL0000TEST"
AWS_SECRET = "sentinel/Secret+" + "x" * 24
SECRETS = (PASSWORD, AWS_KEY, AWS_SECRET)


@pytest.fixture(autouse=True)
def no_target_from_the_environment(monkeypatch):
    for name in ("DWH_DSN", "DWH_CONFIG", "DWH_DEPLOYMENT", config_module.PASSWORD_ENV, "AWS_PROFILE",
                 "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config_module, "_warned", set())
    monkeypatch.setattr(connection.time, "sleep", lambda seconds: None)


def write_config(path, mode=0o600, **sections):
    """A config file from {section: {key: value}}; the full Redshift one by default."""
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str.upper
    config.read_dict(sections or {
        "CLUSTER": {"HOST": "127.0.0.1", "DB_PORT": "1", "DB_NAME": "dev", "DB_USER": "awsuser",
                    "DB_PASSWORD": PASSWORD},
        "IAM_ROLE": {"ARN": "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"},
        "S3": {"LOG_DATA": "s3://udacity-dend/log_data", "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json",
               "SONG_DATA": "s3://udacity-dend/song_data", "REGION": "us-west-2"},
        "AWS": {"KEY": AWS_KEY, "SECRET": AWS_SECRET},
    })
    with open(path, "w") as file:
        config.write(file)
    Path(path).chmod(mode)
    return str(path)


@pytest.fixture
def source(tmp_path):
    return str(write_source(tmp_path / "source", events=[event()], songs=[song()]))


def run_main(main, argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# A bad config: one line that names the key and how to fix it
# ---------------------------------------------------------------------------


def missing_file(tmp_path):
    return ["--config", str(tmp_path / "nowhere.cfg")]


def missing_section(tmp_path):
    return ["--config", write_config(tmp_path / "dwh.cfg", IAM_ROLE={"ARN": "arn:aws:iam::123456789012:role/r"})]


def test_a_missing_section_stops_a_run_on_redshift_and_is_a_placeholder_in_a_dry_run(tmp_path, capsys):
    """A run reads the [S3] paths only once it knows its engine is Redshift (it connects first); a dry run,
    which connects to nothing, shows placeholders instead (tests/test_dry_run_placeholders.py)."""
    from sparkify.api import open_run
    from sparkify.cli import ETL, stopped_by
    from sparkify.config import load_settings
    from sparkify.engines import engine_named

    argv = missing_section(tmp_path)
    settings = load_settings(argv[1])
    with pytest.raises(Exception) as raised:
        open_run(engine_named("redshift", settings), settings, None)
    failure = FAILURES["a missing section"]
    status, lines = stopped_by(raised.value, ETL)
    assert status == failure.exit_code == 2
    assert len(lines) == 1 and failure.message in lines[0]
    code, out, err = run_main(etl.main, ["--dry-run", *argv], capsys)
    assert code == 0 and "'<[S3] LOG_DATA>'" in out and "[S3] LOG_DATA" in err


def missing_key(tmp_path):
    cluster = {"HOST": "127.0.0.1", "DB_USER": "awsuser", "DB_PASSWORD": PASSWORD}
    return ["--config", write_config(tmp_path / "dwh.cfg", CLUSTER=cluster)]


def missing_password(tmp_path):
    cluster = {"HOST": "127.0.0.1", "DB_NAME": "dev", "DB_USER": "awsuser"}
    return ["--config", write_config(tmp_path / "dwh.cfg", CLUSTER=cluster)]


def port_abc(tmp_path):
    cluster = {"HOST": "127.0.0.1", "DB_PORT": "abc", "DB_NAME": "dev", "DB_USER": "awsuser",
               "DB_PASSWORD": PASSWORD}
    return ["--config", write_config(tmp_path / "dwh.cfg", CLUSTER=cluster)]


def not_an_ini_file(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text(f"DB_PASSWORD={PASSWORD}\n[CLUSTER]\nHOST=127.0.0.1\n")
    return ["--config", str(path)]


def random_bytes(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_bytes(bytes(range(256)) * 4)
    return ["--config", str(path)]


def a_directory(tmp_path):
    (tmp_path / "configs").mkdir()
    return ["--config", str(tmp_path / "configs")]


def wrong_forms(tmp_path):
    cluster = {"HOST": "127.0.0.1", "DB_PORT": "five", "DB_NAME": "dev", "DB_USER": "awsuser",
               "DB_PASSWORD": PASSWORD}
    return ["--config", write_config(tmp_path / "dwh.cfg", CLUSTER=cluster, S3={"ENDPOINT_URL": "minio:9000"})]


def two_targets(tmp_path):
    return ["--dsn", f"host=127.0.0.1 password={PASSWORD}", "--pgdata", str(tmp_path / "pgdata")]


def malformed_dsn(tmp_path):
    return ["--dsn", f"host=127.0.0.1 dbname=dev password={PASSWORD} with a space"]


BAD_CONFIGS = [
    ("a missing config file (`--config`)", missing_file),
    ("a missing section", missing_section),
    ("a missing key", missing_key),
    ("no password in the config or the environment", missing_password),
    ('a wrong type (port "abc")', port_abc),
    ("a config file that is not KEY=value", not_an_ini_file),
    ("a DSN that cannot be parsed", malformed_dsn),
    ("a config file of random bytes", random_bytes),
    ("`--config` naming a directory", a_directory),
    ("a value of the wrong form, several at once", wrong_forms),
    ("`--dsn` and `--pgdata` together", two_targets),
]


@pytest.mark.parametrize(
    "main, case, options",
    [pytest.param(etl.main, *row, id=f"etl.py: {row[0]}") for row in BAD_CONFIGS if row[1] is not missing_section]
    + [pytest.param(create_tables.main, *row, id=f"create_tables.py: {row[0]}") for row in BAD_CONFIGS
       if row[1] is not missing_section],  # create_tables.py reads no [S3]; etl.py: the test below
)
def test_a_bad_config_is_one_line_naming_the_key_and_the_fix(tmp_path, source, capsys, main, case, options):
    argv = options(tmp_path)
    if main is etl.main and "--dry-run" not in argv:
        argv += ["--source", source]
    code, out, err = run_main(main, argv, capsys)
    failure = FAILURES[case]
    assert code == failure.exit_code == 2
    assert failure.message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "dwh.cfg.example" in err or "DSN" in err
    for secret in SECRETS:
        assert secret not in out + err


def test_a_config_file_starting_with_a_byte_order_mark_reads_normally(tmp_path, source, capsys):
    path = tmp_path / "dwh.cfg"
    write_config(path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, out, err = run_main(etl.main, ["--dry-run", "--config", str(path)], capsys)
    assert code == FAILURES["a config file that starts with a UTF-8 byte-order mark"].exit_code == 0, err
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift-s3-read'" in out
    assert config_module.load_settings(path).target.host == "127.0.0.1"


# ---------------------------------------------------------------------------
# Who can read dwh.cfg, and passwords from the environment
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, sections, warned",
    [
        pytest.param(0o644, {}, True, id="a password, readable by all: warned"),
        pytest.param(0o640, {}, True, id="a password, readable by the group: warned"),
        pytest.param(0o600, {}, False, id="a password, for its owner only: quiet"),
        pytest.param(0o644, {"S3": {"REGION": "us-west-2"}}, False, id="no secret in it: quiet"),
    ],
)
def test_a_config_holding_secrets_that_others_can_read_gives_a_warning(tmp_path, capsys, mode, sections, warned):
    path = write_config(tmp_path / "dwh.cfg", mode, **sections)
    config_module.load_settings(path)
    config_module.load_settings(path)
    err = capsys.readouterr().err
    failure = FAILURES["`dwh.cfg` with a secret, readable by other users"]
    assert err.count(failure.message) == (1 if warned else 0), "once per file"
    if warned:
        assert f"chmod 600 {path}" in err
    for secret in SECRETS:
        assert secret not in err


def test_the_password_can_come_from_the_environment(tmp_path, monkeypatch):
    cluster = {"HOST": "db.example.com", "DB_NAME": "dev", "DB_USER": "awsuser"}
    path = Path(write_config(tmp_path / "dwh.cfg", CLUSTER=cluster))
    monkeypatch.setenv(config_module.PASSWORD_ENV, "from-the-environment")
    dsn = connection.cluster_dsn(config_module.load_settings(path))
    assert psycopg2.extensions.parse_dsn(dsn)["password"] == "from-the-environment"


def test_the_environment_password_wins_over_the_file(tmp_path, monkeypatch):
    path = Path(write_config(tmp_path / "dwh.cfg"))
    monkeypatch.setenv(config_module.PASSWORD_ENV, "from-the-environment")
    dsn = connection.cluster_dsn(config_module.load_settings(path))
    assert psycopg2.extensions.parse_dsn(dsn)["password"] == "from-the-environment"


# ---------------------------------------------------------------------------
# Secrets never appear in output, errors or --dry-run
# ---------------------------------------------------------------------------


def warehouse_with_password(warehouse):
    return psycopg2.extensions.make_dsn(warehouse.dsn, password=PASSWORD)  # the server trusts: any will do


RUNS = [
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--dry-run", "--config", write_config(
        tmp_path / "dwh.cfg")], id="etl.py --dry-run"),
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--dry-run", "--engine", "postgres", "--config",
                 write_config(tmp_path / "dwh.cfg")], id="etl.py --dry-run --engine postgres"),
    pytest.param(create_tables.main, lambda tmp_path, source, warehouse: ["--dry-run", "--config", write_config(
        tmp_path / "dwh.cfg")], id="create_tables.py --dry-run"),
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--config", write_config(tmp_path / "dwh.cfg"),
                 "--source", source], id="etl.py: the cluster cannot be reached"),
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--config", write_config(tmp_path / "dwh.cfg", 0o644),
                 "--source", source], id="etl.py: the config's mode is warned about"),
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--dsn", warehouse_with_password(warehouse),
                 "--source", source], id="etl.py: a whole run with a password in the DSN"),
    pytest.param(create_tables.main, lambda tmp_path, source, warehouse: ["--dsn", warehouse_with_password(
        warehouse)], id="create_tables.py with a password in the DSN"),
    pytest.param(etl.main, lambda tmp_path, source, warehouse: ["--dsn", f"postgresql://u:{PASSWORD}@127.0.0.1:1/x",
                 "--source", source], id="etl.py: a DSN URI that cannot connect"),
]


@pytest.mark.parametrize("main, options", RUNS)
def test_secrets_never_appear_in_what_the_scripts_print(warehouse, tmp_path, source, capsys, main, options):
    code, out, err = run_main(main, options(tmp_path, source, warehouse), capsys)
    assert out + err, "the run printed something to check"
    for secret in SECRETS:
        assert secret not in out + err


def test_a_whole_run_shows_the_dsn_redacted(warehouse, source, capsys):
    code, out, err = run_main(etl.main, ["--dsn", warehouse_with_password(warehouse), "--source", source,
                                         "--replace-source"], capsys)
    assert code == 0, err
    assert FAILURES["any output, error or `--dry-run`"].message in out.splitlines()[0]
    assert PASSWORD not in out + err


# ---------------------------------------------------------------------------
# Nothing secret is tracked by git
# ---------------------------------------------------------------------------

AWS_KEY_ID = re.compile(rb"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
AWS_SECRET_VALUE = re.compile(
    rb"(?i)(secret|aws_secret_access_key)\w*\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)


def leaks(repository) -> list[str]:
    """Tracked files that are a dwh.cfg, or hold what looks like an AWS key."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repository, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    found = []
    for name in filter(None, listed.stdout.decode().split("\0")):
        path = Path(repository) / name
        if path.name == "dwh.cfg":
            found.append(f"{name}: a dwh.cfg")
        if not path.is_file():
            continue
        content = path.read_bytes()
        for pattern in (AWS_KEY_ID, AWS_SECRET_VALUE):
            if pattern.search(content):
                found.append(f"{name}: looks like an AWS key ({pattern.pattern[:20].decode()}...)")
    return found


def test_no_dwh_cfg_and_no_aws_key_is_tracked():
    assert leaks(PROJECT_DIR) == []


def test_the_tracking_check_catches_a_committed_key_and_config(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "settings.py").write_text(f'KEY = "{AWS_KEY}"\n')
    (tmp_path / "dwh.cfg").write_text(f"[AWS]\nSECRET={'a1B2/c3D4+' * 4}\n")
    git("add", "settings.py", "dwh.cfg")
    found = leaks(tmp_path)
    assert "dwh.cfg: a dwh.cfg" in found
    assert any(item.startswith("dwh.cfg: looks like an AWS key") for item in found)
    assert any(item.startswith("settings.py: looks like an AWS key") for item in found)


# ---------------------------------------------------------------------------
# The README's table of failures
# ---------------------------------------------------------------------------


def test_the_failures_table_in_docs_is_the_one_the_tests_check():
    """docs/failures.md is rendered from tests/failure_cases.py: regenerate it with
    ``python tests/failure_cases.py > docs/failures.md``."""
    assert (PROJECT_DIR / "docs" / "failures.md").read_text() == render()
