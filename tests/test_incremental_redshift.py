"""Incremental loads on Redshift, which cannot run here: the statements, the manifests, the sequence.

A fake Redshift connection (test_redshift_path.py's, answering the ledger's
queries too) receives what run() sends; moto's S3 holds the source and
receives the manifests, whose entries are checked one by one.
"""

import json
import re
from datetime import date

import psycopg2.errors
import pytest
import sqlglot
from failure_cases import FAILURES
from fake_redshift import (
    FakeCursor,
    FakeRedshift,
    merge_match_refused,
    redshift_config,
    statements_of,
    sys_load_error_row,
    write_config,
)
from helpers import event, run_script, song, write_source
from s3_fixtures import FAKE_AWS, environment, make_bucket, moto_server, s3, upload
from sqlglot import exp

import etl
from sparkify import api
from sparkify.config import TargetError, source_locations
from sparkify.engines import connect as target_connection
from sparkify.engines.redshift import CopyPrefixes, RedshiftEngine
from sparkify.results import LoadError, Refused
from sparkify.run import daily_load_sql as daily_sql
from sparkify.run import ledger as incremental
from sparkify.run.mode import mode_for

BUCKET = "sparkify-incremental"
ROOT = f"s3://{BUCKET}/source"
MANIFESTS = f"s3://{BUCKET}/manifests/"


def config(**values):
    return redshift_config(S3__MANIFEST_PREFIX=MANIFESTS, **values)


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """moto's S3, with a bucket whose source/ holds two days of logs and one song."""
    with environment(FAKE_AWS), moto_server() as endpoint, environment({"AWS_ENDPOINT_URL": endpoint}):
        make_bucket(endpoint, BUCKET)
        folder = write_source(
            tmp_path_factory.mktemp("s3source"), songs=[song()],
            log_files={name: json.dumps(event()) + "\n" for name in ("2018-11-01-events.json",
                                                                      "2018-11-02-events.json")},
        )
        upload(endpoint, folder, BUCKET, "source")
        yield endpoint


def listing(endpoint):
    return {item["Key"]: item["ETag"].strip('"') for item in s3(endpoint).list_objects_v2(
        Bucket=BUCKET, Prefix="source/")["Contents"]}


class LedgerRedshift(FakeRedshift):
    """A fake Redshift whose loaded_files holds ``ledger``: (file_key, source, size, version) rows."""

    def __init__(self, ledger=(), **options):
        super().__init__(**options)
        self.ledger = list(ledger)
        self.rows.update(staging_events_new=1, staging_songs_new=1)

    def cursor(self):
        return LedgerCursor(self)


class LedgerCursor(FakeCursor):
    def execute(self, statement, params=None):
        super().execute(statement, params)
        if statement == incremental.loaded_files_select:
            self._rows = list(self.connection.ledger)
        elif statement == incremental.ledger_sources:
            self._rows = sorted({(row[1],) for row in self.connection.ledger})


def ledger_of(endpoint, *names):
    """Ledger rows saying that ``names`` (below source/) were loaded as they are now."""
    client = s3(endpoint)
    rows = []
    for name in names:
        head = client.head_object(Bucket=BUCKET, Key=f"source/{name}")
        rows.append((name, ROOT, head["ContentLength"], head["ETag"].strip('"')))
    return rows


def manifest_entries(endpoint, url):
    bucket, key = url.removeprefix("s3://").split("/", 1)
    return json.loads(s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())["entries"]


# ---------------------------------------------------------------------------
# The statements
# ---------------------------------------------------------------------------


def manifest_copies(settings, max_errors, choice, manifests, source):
    """(table, COPY, manifest URL) for ``manifests``, as a run with ``choice`` sends them."""
    engine = RedshiftEngine(settings, write_manifests=lambda source, prefix, files: manifests)
    opened = CopyPrefixes(source_locations(settings, source))
    choice.files = {"log_data": [], "song_data": []}
    return engine.copies(opened, mode_for(choice), max_errors)


def test_the_copy_of_the_new_events_reads_a_manifest():
    choice = incremental.Choice(source=ROOT, full=False, reason="")
    manifests = {"staging_events": f"{MANIFESTS}20181102T000000000000Z-staging_events.manifest"}
    [(table, statement, url)] = manifest_copies(config(), 5, choice, manifests, ROOT)
    assert (table, url) == ("staging_events", manifests["staging_events"])
    assert statement == f"""
COPY staging_events_new
FROM '{MANIFESTS}20181102T000000000000Z-staging_events.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'
REGION 'us-west-2'
FORMAT AS JSON '{ROOT}/log_json_path.json'
MANIFEST
MAXERROR 6
COMPUPDATE OFF
STATUPDATE OFF
"""


def test_a_reload_copies_the_manifest_into_staging_itself_and_songs_by_name():
    choice = incremental.Choice(source=ROOT, full=True, reason="")
    [(_, statement, _)] = manifest_copies(config(), 0, choice, {"staging_songs": "s3://b/m"}, ROOT)
    assert statement.startswith("\nCOPY staging_songs\nFROM 's3://b/m'\n")
    assert "FORMAT AS JSON 'auto'\nMANIFEST\n" in statement


def test_the_daily_plan_parses_with_a_redshift_grammar_and_commits_nothing_implicitly():
    plan = statements_of(api.plan("redshift", config(), 5, None, full=False))
    for statement in plan:
        [parsed] = sqlglot.parse(statement, read="redshift")
        understood = not isinstance(parsed, exp.Command) or statement.startswith(("LOCK ", "VACUUM "))
        assert understood, f"not understood: {statement[:80]}"
    text = " ".join(plan)
    for unwanted in ("TRUNCATE", "VACUUM", "FROM STDIN", "COLLATE", "GENERATED", "ON CONFLICT"):
        assert unwanted.lower() not in text.lower()
    assert text.count("MANIFEST\n") == 2 and text.count("MERGE INTO user_table") == 1


def test_the_fake_refuses_a_merge_that_matches_on_more_than_column_equalities():
    """r_MERGE.html: the match condition "Specifies equal predicates between the source table column and
    target table column"; an equality of byte lengths is not one."""
    fake = FakeRedshift()
    byte_lengths = (
        "MERGE INTO song_table USING song_table_changes "
        "ON song_table.song_id = song_table_changes.song_id "
        "AND OCTET_LENGTH(song_table.song_id) = OCTET_LENGTH(song_table_changes.song_id) "
        "WHEN MATCHED THEN UPDATE SET title = song_table_changes.title "
        "WHEN NOT MATCHED THEN INSERT (song_id, title) VALUES (song_table_changes.song_id, song_table_changes.title)"
    )
    with pytest.raises(psycopg2.errors.FeatureNotSupported, match="equal predicates between source and target"):
        fake.cursor().execute(byte_lengths)
    fake.rollback()
    fake.cursor().execute(daily_sql.user_table_merge)  # a column's equality: allowed


def test_every_merge_of_a_daily_run_matches_on_column_equalities_only():
    """Text keys match byte for byte all the same: by UPDATE ... FROM and INSERT ... WHERE NOT EXISTS, whose
    WHERE may compare byte lengths."""
    plan = statements_of(api.plan("redshift", config(), 5, None, full=False))
    merges = [statement for statement in plan if statement.lstrip().startswith("MERGE")]
    assert merges == [daily_sql.user_table_merge]
    assert [merge_match_refused(" ".join(merge.split())) for merge in merges] == [None]
    for table, key in (("song_table", "song_id"), ("artist_table", "artist_id")):
        update = getattr(daily_sql, f"{table}_upsert_update")
        insert = getattr(daily_sql, f"{table}_upsert_insert")
        assert plan.index(update) + 1 == plan.index(insert)  # the rows updated are there for NOT EXISTS
        for statement in (update, insert):
            assert f"OCTET_LENGTH({table}.{key}) = OCTET_LENGTH({table}_changes.{key})" in statement


def test_the_root_is_the_folder_of_log_data_and_song_data():
    assert source_locations(redshift_config()).root == "s3://udacity-dend"
    assert source_locations(redshift_config(), "s3://b/p/").root == "s3://b/p"
    apart = source_locations(redshift_config(S3__SONG_DATA="s3://other/song_data"))
    assert apart.root is None
    with pytest.raises(TargetError, match="give --source s3://bucket/prefix, or run etl.py --full"):
        RedshiftEngine(config(S3__SONG_DATA="s3://other/song_data")).open_source(apart, full=False, dated=False)


def test_a_daily_run_without_a_manifest_prefix_copies_the_whole_prefixes():
    plan = " ".join(statements_of(api.plan("redshift", redshift_config(), 0, None, full=False)))
    assert "MANIFEST" not in plan and "FROM 's3://udacity-dend/log_data/'" in plan
    with pytest.raises(TargetError, match=r"need \[S3\] MANIFEST_PREFIX"):
        api.plan("redshift", redshift_config(), 0, None, full=False, since=date(2018, 11, 2))


def test_the_dry_run_of_a_daily_run_on_the_command_line(tmp_path):
    path = write_config(tmp_path / "dwh.cfg", config())
    result = run_script("etl.py", "--dry-run", "--incremental", "--config", path)
    assert result.returncode == 0, result.stderr
    assert "COPY staging_events_new\nFROM 's3://sparkify-incremental/manifests/<run time>-staging_events.manifest'" in (
        result.stdout
    )
    assert "MERGE INTO user_table" in result.stdout and result.stdout.rstrip().endswith("COMMIT;")


def test_a_copy_of_whole_prefixes_records_the_source_one_ledger_row_per_prefix():
    """Without [S3] MANIFEST_PREFIX COPY reads whole prefixes and knows no file: the ledger still says which
    source the warehouse holds, so that the next run continues it and another source is refused."""
    fake = FakeRedshift()
    assert api.run(fake, "redshift", None, 0, settings=redshift_config()).committed
    [insert] = [statement for statement in fake.sent if statement.startswith("INSERT INTO loaded_files")]
    for prefix, table, rows in (("log_data", "staging_events", 8056), ("song_data", "staging_songs", 71)):
        assert (f"('s3://udacity-dend/{prefix}/', 's3://udacity-dend', '{table}', 0, "
                f"'{incremental.WHOLE_PREFIX}', {rows}, 0, ") in insert
    assert fake.sent.index(incremental.loaded_files_clear) < fake.sent.index(insert)


# ---------------------------------------------------------------------------
# Runs against a fake Redshift and moto's S3
# ---------------------------------------------------------------------------


def test_a_daily_run_copies_exactly_the_new_day_through_a_manifest(aws):
    fake = LedgerRedshift(ledger=ledger_of(aws, "log_data/2018/11/2018-11-01-events.json",
                                           "song_data/A/B/C/TRABC0000000000000.json"))
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=False)
    assert result.committed
    choice = result.choice
    assert (choice.full, choice.new, choice.skipped) == (False, 1, 2)
    [copy] = [statement for statement in fake.sent if statement.lstrip().startswith("COPY")]
    url = re.search(r"FROM '([^']+)'", copy).group(1)
    assert re.fullmatch(rf"{MANIFESTS}\d{{8}}T\d{{12}}Z-staging_events\.manifest", url)
    assert manifest_entries(aws, url) == [
        {"url": f"{ROOT}/log_data/2018/11/2018-11-02-events.json", "mandatory": True},
    ]
    [ledger_insert] = [statement for statement in fake.sent if statement.startswith("INSERT INTO loaded_files")]
    etag = listing(aws)["source/log_data/2018/11/2018-11-02-events.json"]
    assert f"('log_data/2018/11/2018-11-02-events.json', '{ROOT}', 'staging_events', " in ledger_insert
    assert f"'{etag}', NULL, 0, " in ledger_insert
    sent = [re.sub(r"/\d{8}T\d{12}Z-", "/<run time>-", statement) for statement in fake.sent]
    sent = [statement for statement in sent if not statement.startswith("INSERT INTO loaded_files")]
    planned = statements_of(api.plan("redshift", config(), 0, ROOT, full=False))
    planned = [statement for statement in planned if not statement.startswith("INSERT INTO loaded_files")]
    assert sent == _without_songs_copy(planned)


@pytest.mark.parametrize("options, settings, copied, told, status", [
    pytest.param([], config(), ["staging_events_new"], False, 0, id="daily"),
    pytest.param(["--full"], config(), ["staging_events", "staging_songs"], False, 0, id="--full"),
    pytest.param([], redshift_config(), [], True, 2, id="no MANIFEST_PREFIX: only --full may reload"),
    pytest.param(["--full"], redshift_config(), ["staging_events", "staging_songs"], False, 0,
                 id="no MANIFEST_PREFIX, --full"),
])
def test_etl_py_on_redshift_runs_daily_unless_told_full(
    aws, monkeypatch, capsys, tmp_path, options, settings, copied, told, status,
):
    fake = LedgerRedshift(ledger=ledger_of(aws, "log_data/2018/11/2018-11-01-events.json",
                                           "song_data/A/B/C/TRABC0000000000000.json"))
    fake.close = lambda: None
    monkeypatch.setattr(target_connection, "connect", lambda target: fake)
    monkeypatch.setattr(RedshiftEngine, "check_connection", lambda self, connection: None)
    path = write_config(tmp_path / "dwh.cfg", settings)
    argv = ["--dsn", "postgresql://fake/dev", "--engine", "redshift", "--config", str(path), "--source", ROOT]
    code = etl.main(argv + options)
    out, err = capsys.readouterr()
    assert code == status, err
    copies = [statement.split()[1] for statement in fake.sent if statement.lstrip().startswith("COPY")]
    assert copies == copied
    assert ("The config has no [S3] MANIFEST_PREFIX: the whole prefixes are copied" in out) == told
    if status:  # a copy of the whole prefixes would drop the rows of any file deleted from S3 since
        case = FAILURES["Redshift without `[S3] MANIFEST_PREFIX`, a loaded warehouse, no `--full`"]
        assert status == case.exit_code and err.startswith(case.message) and "rerun with --full" in err
        assert "COMMIT" not in fake.sent


def run_main(monkeypatch, capsys, tmp_path, fake, settings, *options):
    """etl.py's main() against ``fake``, with ``settings`` as its dwh.cfg: (exit status, stdout, stderr)."""
    fake.close = lambda: None
    monkeypatch.setattr(target_connection, "connect", lambda target: fake)
    monkeypatch.setattr(RedshiftEngine, "check_connection", lambda self, connection: None)
    path = write_config(tmp_path / "dwh.cfg", settings)
    code = etl.main(["--dsn", "postgresql://fake/dev", "--engine", "redshift", "--config", str(path), *options])
    out, err = capsys.readouterr()
    return code, out, err


def ledger_insert(fake):
    return "".join(statement for statement in fake.sent if statement.startswith("INSERT INTO loaded_files"))


def test_full_with_a_manifest_prefix_copies_every_file_through_a_manifest_and_records_each(aws):
    fake = LedgerRedshift(ledger=ledger_of(aws, "log_data/2018/11/2018-11-01-events.json"))
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=True)
    assert result.committed and result.choice.files is not None
    copies = [statement for statement in fake.sent if statement.lstrip().startswith("COPY")]
    assert [copy.split()[1] for copy in copies] == ["staging_events", "staging_songs"]
    assert all("\nMANIFEST\n" in copy for copy in copies)
    for name in ("log_data/2018/11/2018-11-01-events.json", "log_data/2018/11/2018-11-02-events.json",
                 "song_data/A/B/C/TRABC0000000000000.json"):
        assert f"('{name}', '{ROOT}', " in ledger_insert(fake)


def test_a_warehouse_loaded_by_a_copy_of_whole_prefixes_needs_one_full_run_before_daily_runs(aws):
    whole = [(f"{ROOT}/{prefix}/", ROOT, 0, incremental.WHOLE_PREFIX) for prefix in ("log_data", "song_data")]
    fake = LedgerRedshift(ledger=whole)
    with pytest.raises(Refused, match="loaded by a COPY of whole prefixes, which records no file.*rerun with --full"):
        api.run(fake, "redshift", ROOT, 0, settings=config(), full=False)
    assert "COMMIT" not in fake.sent and not any(statement.startswith("COPY") for statement in fake.sent)
    fake = LedgerRedshift(ledger=whole)
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=True)
    assert result.committed and not result.warnings  # the prefixes' rows are not files gone from the source
    assert "('log_data/2018/11/2018-11-02-events.json', " in ledger_insert(fake)


@pytest.mark.parametrize("full", [False, True])
def test_another_source_is_refused_on_redshift_too(aws, full):
    fake = LedgerRedshift(ledger=[("log_data/2018/11/2018-11-01-events.json", "s3://udacity-dend", 10, "x")])
    with pytest.raises(Refused, match=f"the warehouse holds s3://udacity-dend, and this run's source is {ROOT}.*"
                                      f"etl.py --source {ROOT} --replace-source"):
        api.run(fake, "redshift", ROOT, 0, settings=config(), full=full)
    assert "COMMIT" not in fake.sent
    fake = LedgerRedshift(ledger=[("log_data/2018/11/2018-11-01-events.json", "s3://udacity-dend", 10, "x")])
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=full, replace_source=True)
    assert result.committed and result.reason.startswith("--replace-source: the warehouse held s3://udacity-dend")


def test_without_source_a_run_continues_the_source_the_warehouse_holds_and_says_when_the_config_names_another(
    aws, monkeypatch, capsys, tmp_path,
):
    """The config's [S3] paths (the Udacity bucket) are a default for a warehouse that holds nothing."""
    fake = LedgerRedshift(ledger=ledger_of(aws, "log_data/2018/11/2018-11-01-events.json",
                                           "song_data/A/B/C/TRABC0000000000000.json"))
    code, out, err = run_main(monkeypatch, capsys, tmp_path, fake, config())
    assert code == 0, err
    assert f"Source: {ROOT}" in out
    assert (f"warning: the config's [S3] paths name s3://udacity-dend, but the warehouse holds {ROOT}: this run "
            f"continues {ROOT}. To switch: etl.py --source s3://udacity-dend --replace-source") in out
    [copy] = [statement for statement in fake.sent if statement.lstrip().startswith("COPY")]
    assert copy.split()[1] == "staging_events_new"  # the new day of the source it holds, through a manifest


def _without_songs_copy(planned):
    """The plan without the songs' COPY and what the run asks Redshift after it (how many rows it loaded,
    how many records it rejected): the run had no new song file."""
    kept, after_songs_copy = [], False
    for statement in planned:
        if after_songs_copy and ("pg_last_copy" in statement or "stl_load_errors" in statement):
            continue
        after_songs_copy = statement.lstrip().startswith("COPY staging_songs_new")
        if after_songs_copy or statement == daily_sql.work_tables_analyze["staging_songs_new"]:
            continue
        kept.append(statement)
    return kept


def test_a_daily_run_with_nothing_new_sends_no_copy(aws):
    fake = LedgerRedshift(ledger=ledger_of(aws, "log_data/2018/11/2018-11-01-events.json",
                                           "log_data/2018/11/2018-11-02-events.json",
                                           "song_data/A/B/C/TRABC0000000000000.json"))
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=False)
    assert result.choice.nothing_new and not result.committed
    assert not any(statement.lstrip().startswith(("COPY", "INSERT", "MERGE", "DELETE")) for statement in fake.sent)


def test_an_empty_ledger_reloads_everything_from_manifests(aws):
    fake = LedgerRedshift()
    result = api.run(fake, "redshift", ROOT, 0, settings=config(), full=False)
    assert result.choice.full and result.choice.reason == "the ledger is empty: everything loaded"
    copies = [statement for statement in fake.sent if statement.lstrip().startswith("COPY")]
    assert [copy.split()[1] for copy in copies] == ["staging_events", "staging_songs"]
    events_manifest = re.search(r"FROM '([^']+)'", copies[0]).group(1)
    assert [entry["url"].rsplit("/", 1)[-1] for entry in manifest_entries(aws, events_manifest)] == [
        "2018-11-01-events.json", "2018-11-02-events.json",
    ]
    assert "DELETE FROM loaded_files" in fake.sent
    assert "DELETE FROM songplay_table" in fake.sent  # the full transform


def test_the_cluster_role_may_read_the_manifests(tmp_path):
    from sparkify.aws import role
    from sparkify.config import load_settings

    path = write_config(tmp_path / "dwh.cfg", config(DWH__REGION="us-west-2"))
    sources = role.role_sources(load_settings(path))
    assert MANIFESTS in sources
    policy = role.read_policy(sources)
    assert f"arn:aws:s3:::{BUCKET}/manifests/*" in policy["Statement"][0]["Resource"]


@pytest.mark.parametrize("table", ["staging_events", "staging_songs"])
def test_a_full_reload_by_manifest_that_copies_no_row_fails_as_a_copy_of_the_prefixes_does(aws, table):
    fake = LedgerRedshift()  # an empty ledger: everything reloaded, through manifests
    fake.rows[table] = 0
    prefix = incremental.PREFIX_OF[table]
    with pytest.raises(LoadError, match=rf"source {ROOT} has no {prefix}/ records.*--allow-empty loads it"):
        api.run(fake, "redshift", ROOT, 0, settings=config(), full=False)
    assert fake.sent[-1] == "ROLLBACK" and "COMMIT" not in fake.sent

    fake = LedgerRedshift()
    fake.rows[table] = 0
    assert api.run(fake, "redshift", ROOT, 0, settings=config(), full=False, allow_empty=True).committed


@pytest.mark.parametrize("table", ["staging_events", "staging_songs"])
def test_allow_empty_lets_a_copy_of_the_prefixes_load_no_row(table):
    fake = FakeRedshift(rows={"staging_events": 8056, "staging_songs": 71, table: 0})
    assert api.run(fake, "redshift", None, 0, settings=redshift_config(), allow_empty=True).committed


def test_a_file_name_redshift_cut_to_256_characters_is_named_in_full_and_counted_in_the_ledger(aws):
    """STL_LOAD_ERRORS.filename and SYS_LOAD_ERROR_DETAIL.file_name are CHAR(256): a long S3 key
    comes back cut, and is mapped back to the one file of the manifest it begins."""
    root = f"s3://{BUCKET}/long"
    name = "log_data/2018/11/" + "a-very-long-name-" * 14 + "2018-11-03-events.json"
    s3(aws).put_object(Bucket=BUCKET, Key=f"long/{name}", Body=json.dumps(event()).encode() + b"\n")
    s3(aws).put_object(Bucket=BUCKET, Key="long/song_data/A/B/C/TRABC0000000000000.json",
                       Body=json.dumps(song()).encode())
    s3(aws).put_object(Bucket=BUCKET, Key="long/log_json_path.json",
                       Body=s3(aws).get_object(Bucket=BUCKET, Key="source/log_json_path.json")["Body"].read())
    url = f"{root}/{name}"
    assert len(url) > 256
    bad = sys_load_error_row(url[:256], 1, "ts", "Invalid digit, Value 'x', Pos 0, Type: Long", raw_value="x")
    fake = LedgerRedshift(load_errors=[bad], errors_for={"staging_events", "staging_events_new"})
    result = api.run(fake, "redshift", root, 5, settings=config(), full=False)
    assert result.committed
    [record] = [record for load in result.loads for record in load.rejected]
    assert record.source_file == url
    [ledger_insert] = [statement for statement in fake.sent if statement.startswith("INSERT INTO loaded_files")]
    assert re.search(rf"\('{re.escape(name)}', '{re.escape(root)}', 'staging_events', \d+, '[^']+', NULL, 1, ",
                     ledger_insert)


def test_a_cut_file_name_that_no_listed_file_begins_says_it_was_cut():
    from sparkify.engines import redshift_load_errors as load_errors
    from sparkify.results import RejectedRecord

    cut = "s3://b/log_data/" + "x" * 240
    record = RejectedRecord("staging_events", cut, 3, "ts", "bad", None, "")
    [named] = load_errors.full_names([record], files=None)
    assert named.source_file == cut + " (name cut to 256 characters by Redshift)"
    assert named.describe().startswith(cut + " (name cut to 256 characters by Redshift):3, column ts")


def test_a_daily_copy_without_s3_region_has_no_region_clause():
    choice = incremental.Choice(source=ROOT, full=False, reason="")
    manifests = {"staging_events": f"{MANIFESTS}20181102T000000000000Z-staging_events.manifest"}
    [(_, statement, _)] = manifest_copies(config(S3__REGION=""), 5, choice, manifests, ROOT)
    assert "REGION" not in statement
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'\nFORMAT AS JSON" in statement
