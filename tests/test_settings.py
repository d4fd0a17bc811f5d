"""The settings object: one reader of dwh.cfg and its variables, one rule for the target, one writer.

- every way of naming a config (``--config``, ``$DWH_CONFIG``) is read or is an
  error, never a silent fall-back to a default;
- a flag wins over the environment, which wins over dwh.cfg: over every
  combination of ``--dsn``, ``--pgdata``, ``$DWH_DSN`` and ``[CLUSTER] HOST``;
- a value of the wrong form is one line naming its key, every bad key at once,
  never a library's traceback, never a secret;
- [S3] prefixes end in ``/``, as COPY's prefix match needs;
- what cluster.py learns goes back into the file through ``write_keys``,
  keeping the rest of the file as it was.
"""

import ast
import configparser
import itertools
import os
import pwd
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from failure_cases import FAILURES
from helpers import PROJECT_DIR
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import create_tables
import doctor as doctor_command
import etl
import query as query_command
from sparkify import api, config
from sparkify.engines import connect, embedded
from sparkify.output import run_json

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
PASSWORD = "Pw-sentinel-3c1d"


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch):
    for name in ("DWH_CONFIG", "DWH_DSN", "DWH_DB_PASSWORD", "DWH_DEPLOYMENT", "PGSSLROOTCERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "_warned", set())


def write(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------------
# Which config: named by a flag or a variable, it is read or it is an error
# ---------------------------------------------------------------------------

CONFIG_FLAG = {"none": None, "a file": "given.cfg", "a missing file": "missing.cfg", "empty": ""}
CONFIG_VARIABLE = {"unset": None, "a file": "from-env.cfg", "a missing file": "missing-env.cfg", "empty": ""}


@pytest.mark.parametrize("flag, variable, default_exists", [
    pytest.param(flag, variable, exists, id=f"--config {flag}, $DWH_CONFIG {variable}, dwh.cfg {exists}")
    for flag, variable, exists in itertools.product(CONFIG_FLAG, CONFIG_VARIABLE, [True, False])
])
def test_the_config_named_is_read_or_is_an_error_never_a_default(tmp_path, monkeypatch, flag, variable,
                                                                  default_exists):
    for name, host in (("given.cfg", "flag.example.com"), ("from-env.cfg", "env.example.com"),
                       ("dwh.cfg", "default.example.com")):
        if name != "dwh.cfg" or default_exists:
            write(tmp_path / name, f"[CLUSTER]\nHOST={host}\n")
    monkeypatch.setattr(config, "DEFAULT_CONFIG", tmp_path / "dwh.cfg")
    environ = {} if CONFIG_VARIABLE[variable] is None else {
        "DWH_CONFIG": str(tmp_path / CONFIG_VARIABLE[variable]) if CONFIG_VARIABLE[variable] else ""}
    flag_value = None if CONFIG_FLAG[flag] is None else (
        str(tmp_path / CONFIG_FLAG[flag]) if CONFIG_FLAG[flag] else "")

    if flag != "none":  # the flag wins, whatever the variable says
        expected = {"a file": "flag.example.com", "a missing file": "not found",
                    "empty": "--config names no file"}[flag]
    elif variable != "unset":
        expected = {"a file": "env.example.com", "a missing file": "not found", "empty": "is set but empty"}[variable]
    else:
        expected = "default.example.com" if default_exists else None
    try:
        outcome = config.load_settings(flag_value, environ).target.host
    except config.TargetError as error:
        outcome = str(error)
    if expected is None or "." in expected:
        assert outcome == expected
    else:
        assert expected in outcome and "dwh.cfg.example" in outcome


SCRIPTS = {
    "etl.py": lambda argv: etl.main(["--dry-run", *argv]),
    "create_tables.py": lambda argv: create_tables.main(argv),
    "query.py": lambda argv: query_command.main([*argv, "SELECT 1"]),
}


# A user name this machine does not have: "~no-such-user/..." is a path as written, as the shell reads it
NO_USER = "no-such-user-of-sparkify"


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("how", ["--config", "$DWH_CONFIG"])
@pytest.mark.parametrize("where", ["a folder", "the home of no user"])
def test_every_script_stops_on_a_named_config_that_is_not_there(tmp_path, monkeypatch, capsys, script, how, where):
    missing = tmp_path / "nowhere.cfg" if where == "a folder" else Path(f"~{NO_USER}/nowhere.cfg")
    monkeypatch.setattr(embedded, "start", lambda folder: pytest.fail("fell back to the embedded PostgreSQL"))
    if how == "--config":
        code = SCRIPTS[script](["--config", str(missing)])
    else:
        monkeypatch.setenv("DWH_CONFIG", str(missing))
        code = SCRIPTS[script]([])
    err = capsys.readouterr().err
    assert code == 2
    assert f"config file {missing} ({how}) not found" in err and len(err.strip().splitlines()) == 1
    if how == "$DWH_CONFIG":
        assert FAILURES["`DWH_CONFIG` naming a file that is not there"].message in err


def test_cluster_py_stops_on_a_named_config_that_is_not_there(tmp_path, monkeypatch, capsys):
    import cluster as cluster_command

    monkeypatch.setenv("DWH_CONFIG", str(tmp_path / "nowhere.cfg"))
    assert cluster_command.main(["status"]) == 2
    assert "($DWH_CONFIG) not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# A path with ~ reads as the shell reads it; ~user of no user stays as written, never a traceback
# ---------------------------------------------------------------------------

# Every path a user gives (a flag, a variable, a key of dwh.cfg): the path the project goes on to use
PATH_READERS = {
    "--config": lambda text: config.config_path(text)[0],
    "$DWH_CONFIG": lambda text: config.config_path(environ={"DWH_CONFIG": text})[0],
    "[CLUSTER] SSLROOTCERT": lambda text: config.parse({"CLUSTER": {"SSLROOTCERT": text}}).target.sslrootcert,
    "--pgdata": lambda text: config.target_choice(config.parse({}), pgdata=text).pgdata,
    "the embedded server's data folder": embedded.absolute,
}
# a value of dwh.cfg is read without the blanks around it, and holds no line break
USER_NAME = st.text(st.characters(exclude_characters="/", exclude_categories=("Cs", "Cc")), min_size=1,
                    max_size=12).filter(lambda name: name == name.strip())


def is_a_user(name) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def same_place(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


@settings(deadline=None)
@given(name=USER_NAME, rest=st.sampled_from(["", "/", "/dwh.cfg", "/a/b"]))
@example(name="0", rest="/dwh.cfg")
def test_a_path_under_the_home_of_no_user_is_used_as_written(name, rest):
    assume(not is_a_user(name))  # a user's home is expanded (the test below)
    text = f"~{name}{rest}"
    for reader in PATH_READERS.values():
        assert same_place(reader(text), text)
    with pytest.raises(config.TargetError, match="is inside the source"):
        run_json.ResultsFile(f"{text}/run.json", places=[(text, "the source")])


@pytest.mark.parametrize("reader", PATH_READERS)
def test_a_path_under_a_home_is_expanded(reader, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    root = pwd.getpwuid(0)
    assert same_place(PATH_READERS[reader]("~/dwh.cfg"), tmp_path / "dwh.cfg")
    assert same_place(PATH_READERS[reader](f"~{root.pw_name}/dwh.cfg"), Path(root.pw_dir) / "dwh.cfg")


def test_without_a_home_a_path_with_tilde_is_used_as_written(monkeypatch, tmp_path):
    """No $HOME and a uid the password database does not know (a container's): the shell keeps ~ as written."""
    def unknown(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)
    for reader in PATH_READERS.values():
        assert same_place(reader("~/dwh.cfg"), "~/dwh.cfg")
    monkeypatch.setattr(connect, "system_trust_store", lambda: str(tmp_path / "ca.crt"))
    cluster = config.parse({"CLUSTER": {"HOST": "db.example.com"}})  # libpq's ~/.postgresql/root.crt looked for
    assert connect.tls_settings(cluster) == {"sslmode": "verify-full", "sslrootcert": str(tmp_path / "ca.crt")}


# ---------------------------------------------------------------------------
# Which target: a flag wins over the environment, which wins over dwh.cfg
# ---------------------------------------------------------------------------

COMBINATIONS = list(itertools.product([None, "host=flag.example.com"], [None, "pgdata-flag"],
                                      [None, "host=env.example.com"], [None, "cluster.example.com"]))


def expected_target(dsn, pgdata, environment, host):
    """The documented rule, written out once more as a table."""
    if dsn and pgdata:
        return "error"
    if dsn:
        return ("dsn", "--dsn", dsn)
    if pgdata:
        return ("embedded", "--pgdata", pgdata)
    if environment:
        return ("dsn", "$DWH_DSN", environment)
    if host:
        return ("cluster", "[CLUSTER] HOST", None)
    return ("embedded", "default", None)


@pytest.mark.parametrize("dsn, pgdata, environment, host", [
    pytest.param(*values, id=f"--dsn {bool(values[0])}, --pgdata {bool(values[1])}, $DWH_DSN {bool(values[2])}, "
                             f"HOST {bool(values[3])}")
    for values in COMBINATIONS
])
def test_the_target_follows_one_rule_over_every_combination(dsn, pgdata, environment, host):
    settings = config.parse({"CLUSTER": {"HOST": host or ""}}, {"DWH_DSN": environment} if environment else {})
    expected = expected_target(dsn, pgdata, environment, host)
    if expected == "error":
        with pytest.raises(config.TargetError, match="--dsn and --pgdata name two targets"):
            config.target_choice(settings, dsn, pgdata)
        return
    choice = config.target_choice(settings, dsn, pgdata)
    named = choice.dsn.reveal() if choice.dsn else (str(choice.pgdata) if choice.pgdata else None)
    assert (choice.kind, choice.named_by, named) == expected


class Started(Exception):
    """The embedded PostgreSQL was asked to start: the target was chosen."""


@pytest.mark.parametrize("script, main", [
    ("query.py", lambda argv: query_command.main(argv + ["SELECT 1"])),
    ("etl.py", etl.main),
    ("create_tables.py", create_tables.main),
    ("doctor.py", doctor_command.main),
])
def test_pgdata_wins_over_a_cluster_host_in_the_config(tmp_path, monkeypatch, script, main):
    """The case of the issue: --pgdata was ignored, and the error was about [CLUSTER] DB_PASSWORD."""
    path = write(tmp_path / "dwh.cfg", "[CLUSTER]\nHOST=my-cluster.abc123.us-west-2.redshift.amazonaws.com\n"
                                      "DB_NAME=dev\nDB_USER=awsuser\n")

    def start(folder):
        raise Started(folder)

    monkeypatch.setattr(embedded, "start", start)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "PG_VERSION").write_text("18\n")  # a warehouse is there: doctor.py makes none
    with pytest.raises(Started) as started:
        main(["--config", str(path), "--pgdata", str(tmp_path / "mine")])
    assert Path(started.value.args[0]) == tmp_path / "mine"


@pytest.mark.parametrize("script", ["etl.py", "create_tables.py", "query.py", "doctor.py"])
def test_each_script_s_help_says_the_rule(script):
    result = subprocess.run([sys.executable, script, "--help"], cwd=PROJECT_DIR, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"}, check=True)
    text = " ".join(result.stdout.split())
    assert "a flag wins over the environment, which wins over the config" in text
    assert "read or an error, never replaced by a default" in text


# ---------------------------------------------------------------------------
# A value of the wrong form: one line that names its key; every bad key at once
# ---------------------------------------------------------------------------

TYPED = [key for key, (_, _, parse) in config.KEYS.items() if parse not in (config.Secret, config._text)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(config.KEYS)), value=st.text(st.characters(exclude_categories=["Cs"]),
                                                                min_size=1, max_size=40))
@example(key=("CLUSTER", "SSLROOTCERT"), value="~0")  # the home of no user: Path.expanduser() raised RuntimeError
@example(key=("CLUSTER", "SSLROOTCERT"), value="~\x00")  # a NUL: the password database's lookup raised ValueError
def test_any_value_is_taken_or_refused_in_one_line_naming_its_key(key, value):
    section, name = key
    value = value.replace("\r", " ").replace("\n", " ")
    try:
        settings = config.parse({section: {name: value}})
    except config.TargetError as error:
        message = str(error)
        assert f"[{section}] {name}" in message and "\n" not in message
        if key in config.SECRET_KEYS:
            assert repr(value.strip()) not in message
        return
    typed = config.value_of(settings, section, name)
    assert typed is not None or not value.strip()


@pytest.mark.parametrize("key", sorted(config.KEYS), ids=lambda key: f"[{key[0]}] {key[1]}")
def test_a_nul_character_in_any_key_is_refused_in_one_line_naming_it(key):
    """A damaged or binary dwh.cfg: no setting holds a NUL (the OS, the password database and libpq raise on one)."""
    section, name = key
    for value in ("~\x00", "a\x00b"):
        with pytest.raises(config.TargetError) as refused:
            config.parse({section: {name: value}})
        message = str(refused.value)
        assert f"[{section}] {name} holds a NUL character" in message and "\n" not in message


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_stops_on_a_config_file_holding_a_nul(tmp_path, monkeypatch, capsys, script):
    damaged = tmp_path / "dwh.cfg"
    damaged.write_text("[CLUSTER]\nHOST = db\x00.example.com\nSSLROOTCERT = ~\x00/root.crt\n")
    monkeypatch.setattr(embedded, "start", lambda folder: pytest.fail("fell back to the embedded PostgreSQL"))
    assert SCRIPTS[script](["--config", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert "[CLUSTER] HOST holds a NUL character" in err and "[CLUSTER] SSLROOTCERT holds a NUL character" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("section, key, value, form", [
    ("CLUSTER", "DB_PORT", "54 39", "a port number"),
    ("CLUSTER", "DB_PORT", "70000", "between 1 and 65535"),
    ("CLUSTER", "HOST", "postgresql://me@db.example.com/dev", "not a URL"),
    ("CLUSTER", "SSLMODE", "strict", "one of disable, allow"),
    ("IAM_ROLE", "ARN", "sparkify-role", "the ARN of an IAM role"),
    ("S3", "LOG_DATA", "udacity-dend/log_data", "an s3:// prefix"),
    ("S3", "LOG_JSONPATH", "s3://udacity-dend/", "the s3:// URL of a file"),
    ("S3", "REGION", "Oregon", "an AWS region"),
    ("S3", "ENDPOINT_URL", "localhost:9000", "an http:// or https:// URL"),
    ("S3", "MANIFEST_PREFIX", "/tmp/manifests", "an s3:// prefix"),
    ("DWH", "PUBLICLY_ACCESSIBLE", "maybe", "yes or no"),
    ("DWH", "NUM_NODES", "two", "a whole number"),
    ("DWH", "TIME_TO_LIVE_HOURS", "-1", "above 0"),
    ("DWH", "INGRESS_CIDR", "203.0.113", "an address or a network"),
    ("DWH", "CLUSTER_IDENTIFIER", "Sparkify_1", "a cluster name"),
])
def test_a_value_of_the_wrong_form_names_its_key_and_the_form(section, key, value, form):
    with pytest.raises(config.TargetError) as refused:
        config.parse({section: {key: value}})
    assert f"[{section}] {key} must be" in str(refused.value) and form in str(refused.value)
    assert f"not {value!r}" in str(refused.value)


def test_every_bad_key_is_named_at_once_and_no_secret_is_shown(tmp_path):
    path = write(tmp_path / "dwh.cfg", f"[CLUSTER]\nDB_PORT=abc\nDB_PASSWORD={PASSWORD}\n[S3]\nREGION=mars\n"
                                       "ENDPOINT_URL=not a url\n[AWS]\nKEY=AKIAEXAMPLE\n")
    with pytest.raises(config.TargetError) as refused:
        config.load_settings(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    for key in ("[CLUSTER] DB_PORT", "[S3] REGION", "[S3] ENDPOINT_URL", "[AWS] KEY is set but SECRET is empty"):
        assert key in message
    assert PASSWORD not in message and "AKIAEXAMPLE" not in message


def test_an_endpoint_that_is_not_a_url_is_one_line_not_a_botocore_traceback(tmp_path, capsys):
    path = write(tmp_path / "dwh.cfg", "[S3]\nENDPOINT_URL=minio:9000\n")
    code = etl.main(["--config", str(path), "--dsn", f"host={tmp_path} port=1 dbname=x", "--source",
                     "s3://sparkify-bucket/data"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {path}: [S3] ENDPOINT_URL must be an http:// or https:// URL")
    assert "Traceback" not in err


def test_an_environment_variable_is_named_as_the_variable(monkeypatch):
    with pytest.raises(config.TargetError, match=r"\$DWH_DEPLOYMENT must be provisioned or serverless, not 'cloud'"):
        config.parse({"DWH": {"DEPLOYMENT": "serverless"}}, {"DWH_DEPLOYMENT": "cloud"})
    assert config.parse({"DWH": {"DEPLOYMENT": "serverless"}}, {"DWH_DEPLOYMENT": "provisioned"}
                        ).redshift.deployment == "provisioned", "the variable wins over the file"
    for name in ("DWH_DSN", "DWH_DB_PASSWORD", "DWH_DEPLOYMENT"):
        with pytest.raises(config.TargetError, match=rf"\${name} is set but empty"):
            config.parse({}, {name: " "})


def test_secrets_never_show_in_the_settings_or_a_message():
    settings = config.parse({"CLUSTER": {"DB_PASSWORD": PASSWORD}, "AWS": {"KEY": "AKIA" + "X" * 16,
                                                                           "SECRET": "s" * 40}},
                            {"DWH_DSN": f"host=db password={PASSWORD}"})
    shown = repr(settings) + str(settings) + f"{settings.target.password} {settings.target.dsn}"
    assert PASSWORD not in shown and "AKIA" not in shown and "s" * 40 not in shown
    assert settings.target.password.reveal() == PASSWORD
    with pytest.raises(AttributeError):
        settings.target.password._value = "changed"


@pytest.mark.parametrize("variable", ["AWS_PROFILE", "AWS_ACCESS_KEY_ID"])
def test_aws_keys_in_the_file_beside_aws_credentials_in_the_environment_are_refused(variable):
    """boto3 would take the file's keys and ignore the variable: the explicit variable must not lose silently."""
    sections = {"AWS": {"KEY": "AKIA" + "Y" * 16, "SECRET": "z" * 40}}
    assert config.parse(sections, {}).aws.key
    with pytest.raises(config.TargetError, match=rf"\[AWS\] KEY and SECRET, and \${variable}, both name AWS "
                                                 "credentials: keep one"):
        config.parse(sections, {variable: "someone"})


def test_an_unknown_key_is_warned_about_with_the_nearest_one(tmp_path, capsys):
    path = write(tmp_path / "dwh.cfg", "[CLUSTER]\nHSOT=db.example.com\n[cluster]\nHOST=x\n")
    assert config.load_settings(path).target.host is None
    err = capsys.readouterr().err
    assert "[CLUSTER] HSOT (did you mean HOST?)" in err and "[cluster] (did you mean [CLUSTER]?)" in err


# ---------------------------------------------------------------------------
# Serverless capacity, as https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html says
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("rpus, region, accepted", [
    (4, None, True), (2, None, False), (6, None, False), (8, None, True), (12, None, False), (24, None, True),
    (512, None, True), (520, None, False), (544, None, True), (1024, "us-west-2", True), (1024, None, True),
    (1024, "ap-south-1", False), (544, "ap-south-1", False), (512, "ap-south-1", True), (1056, None, False),
])
def test_the_base_capacity_follows_aws_s_steps(rpus, region, accepted):
    sections = {"DWH": {"BASE_CAPACITY_RPUS": str(rpus), "REGION": region or ""}}
    if accepted:
        assert config.parse(sections).aws.provisioning.base_rpus == rpus
    else:
        with pytest.raises(config.TargetError, match=r"\[DWH\] BASE_CAPACITY_RPUS must be 4, or 8 to 512"):
            config.parse(sections)


def test_the_maximum_capacity_defaults_to_the_base_and_never_goes_below_it():
    assert config.parse({"DWH": {"BASE_CAPACITY_RPUS": "4"}}).aws.provisioning.max_capacity == 4
    assert config.parse({"DWH": {"MAX_CAPACITY_RPUS": "1536"}}).aws.provisioning.max_capacity == 1536
    with pytest.raises(config.TargetError, match="MAX_CAPACITY_RPUS must be at least the base capacity, 16"):
        config.parse({"DWH": {"BASE_CAPACITY_RPUS": "16", "MAX_CAPACITY_RPUS": "8"}})


# ---------------------------------------------------------------------------
# [S3] prefixes end in "/"
# ---------------------------------------------------------------------------

SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(folders=st.lists(SEGMENT, min_size=0, max_size=3), slash=st.booleans())
def test_s3_prefixes_end_in_one_slash_so_that_copy_reads_nothing_beside_them(folders, slash):
    base = "/".join(["s3://sparkify-bucket", *folders])
    given = {"LOG_DATA": f"{base}/log_data" + ("/" if slash else ""),
             "SONG_DATA": f"{base}/song_data" + ("/" if slash else ""),
             "LOG_JSONPATH": f"{base}/log_json_path.json", "MANIFEST_PREFIX": f"{base}/manifests"}
    source = config.parse({"S3": given}).source
    assert source.log_data == f"{base}/log_data/" and source.song_data == f"{base}/song_data/"
    assert source.manifest_prefix == f"{base}/manifests/"
    assert source.log_jsonpath == f"{base}/log_json_path.json", "a file, not a prefix"
    assert config.source_locations(config.parse({"S3": given})).root == base


def test_the_copy_of_a_config_path_without_a_slash_reads_only_that_folder():
    settings = config.parse({"S3": {"LOG_DATA": "s3://udacity-dend/log_data", "SONG_DATA": "s3://udacity-dend/song_data",
                                    "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json"},
                             "IAM_ROLE": {"ARN": ROLE}})
    plan = "\n".join(api.plan("redshift", settings))
    assert "FROM 's3://udacity-dend/log_data/'" in plan and "FROM 's3://udacity-dend/song_data/'" in plan


# ---------------------------------------------------------------------------
# One writer: write_keys keeps the person's file
# ---------------------------------------------------------------------------

COMMENT = st.sampled_from(["# a comment", "; another", "", "   ", "# HOST=not this one"])
KEY_VALUE = st.tuples(st.sampled_from(["HOST", "DB_NAME", "DB_USER", "DB_PORT", "ARN", "REGION"]),
                      st.sampled_from(["=", " = ", ": ", ":"]), st.text("abcxyz0123.-", max_size=8))


@st.composite
def config_files(draw):
    lines = draw(st.lists(COMMENT, max_size=2))
    for section in draw(st.lists(st.sampled_from(["CLUSTER", "IAM_ROLE", "S3", "DWH"]), unique=True, max_size=4)):
        lines.append(f"[{section}]")
        keys = draw(st.lists(KEY_VALUE, max_size=4, unique_by=lambda item: item[0]))
        for key, separator, value in keys:
            lines += draw(st.lists(COMMENT, max_size=1))
            lines.append(f"{key}{separator}{value}")
    return lines


def read_back(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper
    parser.read(path)
    return {(section, key): value for section in parser.sections() for key, value in parser[section].items()}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=config_files(), newline=st.sampled_from(["\n", "\r\n"]))
def test_write_keys_changes_only_the_keys_it_is_given(tmp_path, lines, newline):
    path = tmp_path / "dwh.cfg"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    path.chmod(0o640)
    before = read_back(path)
    config.write_keys(path, {"CLUSTER": {"HOST": "new.example.com"}, "IAM_ROLE": {"ARN": ROLE}})
    after = read_back(path)
    assert after[("CLUSTER", "HOST")] == "new.example.com" and after[("IAM_ROLE", "ARN")] == ROLE
    assert {key: value for key, value in after.items() if key not in (("CLUSTER", "HOST"), ("IAM_ROLE", "ARN"))} \
        == {key: value for key, value in before.items() if key not in (("CLUSTER", "HOST"), ("IAM_ROLE", "ARN"))}
    text = path.read_bytes().decode()
    kept = iter(text.split(newline))
    others = [line for line in lines if not re.match(r"^(HOST|ARN)\s*[=:]", line)]
    assert all(line in kept for line in others), "every other line is kept, in order"
    assert text.count("\n") == text.count(newline), "the file's line ending is kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [item.name for item in tmp_path.iterdir()] == ["dwh.cfg"], "no temporary file left"


def test_write_keys_never_writes_a_secret_or_a_second_line(tmp_path):
    path = write(tmp_path / "dwh.cfg", "[CLUSTER]\nHOST=\n")
    for values in ({"CLUSTER": {"DB_PASSWORD": "x"}}, {"AWS": {"SECRET": "x"}}, {"CLUSTER": {"HOST": "a\nB=c"}}):
        with pytest.raises(ValueError):
            config.write_keys(path, values)
    assert path.read_text() == "[CLUSTER]\nHOST=\n"


def test_write_keys_keeps_a_byte_order_mark_and_a_key_written_with_a_colon(tmp_path):
    path = write(tmp_path / "dwh.cfg", "\ufeff[CLUSTER]\n# the endpoint\nHOST: old\n")
    config.write_keys(path, {"CLUSTER": {"HOST": "new"}})
    assert path.read_bytes().decode("utf-8") == "\ufeff[CLUSTER]\n# the endpoint\nHOST=new\n"
    assert config.load_settings(path).target.host == "new"


# ---------------------------------------------------------------------------
# One reader
# ---------------------------------------------------------------------------


def test_no_module_but_config_py_reads_dwh_cfg_or_the_variables_that_stand_in_for_it():
    readers = []
    files = [*(PROJECT_DIR / "sparkify").rglob("*.py"), *PROJECT_DIR.glob("*.py"),
             PROJECT_DIR / "docs" / "make_plots.py"]
    for path in files:
        if path == PROJECT_DIR / "sparkify" / "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bconfigparser\b|ConfigParser", text):
            readers.append(f"{path.relative_to(PROJECT_DIR)}: configparser")
        for match in re.finditer(r"environ(?:\.get\(|\[)\s*['\"](DWH_[A-Z_]+|PGSSLROOTCERT|AWS_ENDPOINT_URL)", text):
            readers.append(f"{path.relative_to(PROJECT_DIR)}: {match.group(1)}")
    notebook = (PROJECT_DIR / "creating_cluster.ipynb").read_text(encoding="utf-8")
    for variable in ("DWH_CONFIG", "DWH_DSN", "DWH_DEPLOYMENT", "DWH_DB_PASSWORD"):
        if re.search(rf"environ\.get\(\\\"{variable}", notebook):
            readers.append(f"creating_cluster.ipynb: {variable}")
    assert readers == []


def test_no_module_but_config_py_expands_a_home_folder():
    """config.user_path() owns ~: Path.expanduser() raises RuntimeError on the home of no user."""
    expanders = []
    for path in [*(PROJECT_DIR / "sparkify").rglob("*.py"), *PROJECT_DIR.glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "expanduser" and not (
                    path == PROJECT_DIR / "sparkify" / "config.py" and ast.unparse(node) == "os.path.expanduser"):
                expanders.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    assert expanders == []


def test_the_settings_are_frozen():
    settings = config.parse({})
    with pytest.raises(AttributeError):
        settings.target.host = "elsewhere"


def test_a_target_s_settings_are_the_ones_it_was_chosen_with(tmp_path):
    settings = config.parse({}, {"DWH_DSN": "host=db.example.com dbname=dev"})
    target = connect.choose_target(settings)
    assert target.settings is settings and target.label == "db.example.com/dev"
