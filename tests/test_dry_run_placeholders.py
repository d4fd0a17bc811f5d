"""A dry run connects to nothing: a setting the config does not give is a placeholder ('<[IAM_ROLE] ARN>'),
named in a comment at the top of the script and in one line on standard error; the script still parses as
Redshift SQL, and a real run still refuses the config."""

import re

import pytest
import sqlglot
from helpers import PROJECT_DIR, run_main, run_script

import etl
from sparkify import api
from sparkify.config import TargetError, load_settings
from sparkify.engines import engine_named

EVERY_KEY = ["[S3] LOG_DATA", "[S3] SONG_DATA", "[S3] LOG_JSONPATH", "[IAM_ROLE] ARN"]


def config(tmp_path, text=""):
    path = tmp_path / "dwh.cfg"
    path.write_text(text)
    return str(path)


CASES = {  # (config text, options): the keys the dry run shows as placeholders
    "a fresh clone": ("", [], EVERY_KEY),
    "a fresh clone, a daily run": ("", ["--incremental"], EVERY_KEY),
    "--source in S3": ("", ["--source", "s3://my-bucket/sparkify"], ["[IAM_ROLE] ARN"]),
    "some of the [S3] paths": ("[S3]\nLOG_DATA=s3://udacity-dend/log_data\n", [],
                               ["[S3] SONG_DATA", "[S3] LOG_JSONPATH", "[IAM_ROLE] ARN"]),
    "every setting": ("[S3]\nLOG_DATA=s3://b/log_data\nSONG_DATA=s3://b/song_data\nLOG_JSONPATH=s3://b/p.json\n"
                      "[IAM_ROLE]\nARN=arn:aws:iam::123456789012:role/r\n", [], []),
}


@pytest.mark.parametrize("case", CASES)
def test_a_dry_run_shows_a_placeholder_for_each_setting_the_config_does_not_give(tmp_path, case):
    text, options, missing = CASES[case]
    status, out, err = run_main(etl.main, ["--dry-run", "--engine", "redshift", "--config", config(tmp_path, text),
                                           *options])
    assert status == 0, err
    said = f"the config does not set {', '.join(missing)}: the script shows '<[SECTION] KEY>' in their place"
    header = out.splitlines()[:2]
    if missing:
        assert header[1] == f"-- placeholders: {said}; set them (see dwh.cfg.example) before a real run"
        assert err == f"note: {said}\n"
    else:
        assert not header[1].startswith("-- placeholders") and err == ""
    assert sorted(set(re.findall(r"'<(\[\w+\] \w+)>'", out)) - {"[SECTION] KEY"}) == sorted(missing)
    assert all(statement is not None for statement in sqlglot.parse(out, read="redshift"))


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case][2]])
def test_a_real_run_still_refuses_the_config_that_lacks_them(tmp_path, case):
    text, options, missing = CASES[case]
    settings = load_settings(config(tmp_path, text))
    source = options[1] if options[:1] == ["--source"] else None
    with pytest.raises(TargetError, match=re.escape(", ".join(missing))):
        api.open_run(engine_named("redshift", settings), settings, source)


def test_a_value_of_the_wrong_form_is_still_refused_by_a_dry_run(tmp_path):
    status, _, err = run_main(etl.main, ["--dry-run", "--config", config(tmp_path, "[IAM_ROLE]\nARN=not-an-arn\n")])
    assert status == 2 and "[IAM_ROLE] ARN must be the ARN of an IAM role" in err


@pytest.mark.skipif((PROJECT_DIR / "dwh.cfg").exists(), reason="this clone has a dwh.cfg: not a fresh clone")
def test_the_readmes_dry_run_example_runs_on_a_fresh_clone():
    result = run_script("etl.py", "--dry-run", "--engine", "redshift")
    assert result.returncode == 0, result.stderr
    assert "IAM_ROLE '<[IAM_ROLE] ARN>'" in result.stdout and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("engine", ["redshift", "postgres"])
def test_a_dry_run_connects_to_nothing(tmp_path, monkeypatch, case, engine):
    """No socket is opened and no embedded PostgreSQL started, whatever the config lacks, also with a DWH_DSN
    and a [CLUSTER] HOST that a real run would reach."""
    import socket

    from sparkify.engines import embedded

    def refuse(*args, **kwargs):
        pytest.fail("a dry run opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(embedded, "start", refuse)
    monkeypatch.setenv("DWH_DSN", "postgresql://etl@warehouse.invalid:5439/dev")
    text, options, _ = CASES[case]
    path = config(tmp_path, "[CLUSTER]\nHOST=cluster.example.invalid\n" + text)
    status, out, err = run_main(etl.main, ["--dry-run", "--engine", engine, "--config", path, *options])
    assert status == 0, err
    assert out.startswith(f"-- etl.py --dry-run: every statement for {engine}")
