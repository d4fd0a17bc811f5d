"""The Redshift path, which cannot run here: right by construction, and by these tests.

- the exact COPY text for a config, hostile values included;
- the statement sequence: what --dry-run prints is what run() sends (to a fake
  Redshift connection), and every statement parses with a Redshift grammar;
- load errors: rows shaped like sys_load_error_detail become the loader's
  rejected records; a failed COPY, a COPY that loaded nothing, and records
  skipped under --max-errors;
- the parity traps between the engines (TEXT, bytes or characters, time zones,
  TRUNCATE); the connection's TLS; the pre-flight check (doctor.py).
"""

import io
import re
from datetime import datetime

import boto3
import psycopg2
import psycopg2.errors
import pytest
import sqlglot
from fake_redshift import (
    ROLE,
    FakeCursor,
    FakeRedshift,
    comparable,
    redshift_config,
    statements_of,
    sys_load_error_row,
    write_config,
)
from helpers import BUNDLED_SAMPLE, UDACITY_SAMPLE, event, run_script, song, write_source
from s3_fixtures import FAKE_AWS, environment, make_bucket, moto_server, s3, upload
from sqlglot import exp

import doctor as doctor_command
import etl
import sql_queries as q
from sparkify import api
from sparkify import config as config_module
from sparkify.api import table_statements as create_statements
from sparkify.checks import doctor
from sparkify.config import TargetError
from sparkify.engines import PostgresEngine, RedshiftEngine, detect_engine, redshift
from sparkify.engines import connect as target_connection
from sparkify.engines import redshift_load_errors as redshift_errors
from sparkify.engines.local_loader.staging import LoadError, RejectedRecord
from sparkify.output.report import Reporter
from sparkify.output.summary import summary
from sparkify.run.ledger import Choice
from sparkify.run.mode import FullLoad
from sparkify.sources.s3 import S3Source
from sparkify.value_ranges import RANGE_MEANING


def copy_statements(settings, max_errors, source=None):
    """The COPY statements of a full load for ``settings`` (and ``--source``), as run() sends them."""
    engine = RedshiftEngine(settings)
    opened, _ = api.open_run(engine, settings, source, True, False)
    full = FullLoad(Choice(source=opened.label, full=True, reason="", files=None))
    return [statement for _, statement, _ in engine.copies(opened, full, max_errors)]


# ---------------------------------------------------------------------------
# COPY
# ---------------------------------------------------------------------------


def test_the_copy_statements_for_the_udacity_bucket():
    events, songs = copy_statements(redshift_config(), max_errors=0)
    assert events == """
COPY staging_events
FROM 's3://udacity-dend/log_data/'
IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'
REGION 'us-west-2'
FORMAT AS JSON 's3://udacity-dend/log_json_path.json'
MAXERROR 1
COMPUPDATE OFF
STATUPDATE OFF
"""
    assert songs == """
COPY staging_songs
FROM 's3://udacity-dend/song_data/'
IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'
REGION 'us-west-2'
FORMAT AS JSON 'auto'
MAXERROR 1
COMPUPDATE OFF
STATUPDATE OFF
"""


def test_copy_reads_below_an_s3_source_and_takes_max_errors():
    events, songs = copy_statements(redshift_config(), 10, source="s3://my-bucket/sparkify/")
    assert "FROM 's3://my-bucket/sparkify/log_data/'" in events
    assert "FORMAT AS JSON 's3://my-bucket/sparkify/log_json_path.json'" in events
    assert "FROM 's3://my-bucket/sparkify/song_data/'" in songs
    assert "MAXERROR 11" in events and "MAXERROR 11" in songs  # --max-errors 10: 10 load, the 11th fails


@pytest.mark.parametrize(
    "key, hostile, literal",
    [
        ("S3__LOG_DATA", "s3://b/x\\'; DELETE FROM user_table; --", "'s3://b/x\\\\''; DELETE FROM user_table; --/'"),
        ("S3__LOG_JSONPATH", "s3://b/p.json'; COMMIT; --", "'s3://b/p.json''; COMMIT; --'"),
    ],
)
def test_a_hostile_config_value_stays_one_literal(key, hostile, literal):
    """An S3 key may hold quotes and semicolons: such a path is still one literal."""
    events, _ = copy_statements(redshift_config(**{key: hostile}), 0)
    assert literal in events
    [parsed] = sqlglot.parse(events, read="redshift")
    assert isinstance(parsed, exp.Copy)
    assert not list(parsed.find_all(exp.Drop, exp.Delete, exp.Commit))


@pytest.mark.parametrize(
    "key, hostile",
    [
        ("IAM_ROLE__ARN", "x'; DROP TABLE songplay_table; --"),
        ("S3__REGION", "us-west-2' CREDENTIALS 'aws_access_key_id=AKIA"),
        ("S3__LOG_JSONPATH", "s3://b/p.json';\nCOMMIT;"),
    ],
)
def test_a_hostile_value_that_is_not_of_its_keys_form_never_reaches_a_statement(key, hostile):
    section, name = key.split("__")
    with pytest.raises(TargetError, match=re.escape(f"[{section}] {name} must be")):
        redshift_config(**{key: hostile})


@pytest.mark.parametrize(
    "config, max_errors, message",
    [
        (redshift_config(IAM_ROLE__ARN=""), 0, "the config has no [IAM_ROLE] ARN: set it (see dwh.cfg.example)"),
        (redshift_config(S3__SONG_DATA=""), 0, "the config has no [S3] SONG_DATA"),
        (redshift_config(), 100_000, "--max-errors must be between 0 and 99,999 on Redshift: --max-errors N runs "
                                     "COPY with MAXERROR N+1, and COPY accepts at most 100,000"),
    ],
)
def test_a_missing_setting_is_one_line_saying_which(config, max_errors, message):
    with pytest.raises(TargetError, match=re.escape(message)):
        copy_statements(config, max_errors)


def test_without_s3_region_copy_has_no_region_clause_and_reads_the_clusters_region():
    events, songs = copy_statements(redshift_config(S3__REGION=" "), 0)
    assert "REGION" not in events and "REGION" not in songs
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'\nFORMAT AS JSON 's3://udacity-dend/log_json_path.json'" \
        in events
    [parsed] = sqlglot.parse(events, read="redshift")
    assert isinstance(parsed, exp.Copy)


def test_a_local_folder_cannot_be_a_redshift_source():
    with pytest.raises(TargetError, match="is not in S3: a Redshift target reads the source with COPY"):
        copy_statements(redshift_config(), 0, source="data/sample")


# ---------------------------------------------------------------------------
# What a run sends to a fake Redshift connection (fake_redshift.py), and the load errors it answers with
# ---------------------------------------------------------------------------


BAD_SESSION = sys_load_error_row(
    "s3://udacity-dend/log_data/2018/11/2018-11-01-events.json", 2, "session_id",
    "Invalid digit, Value 'a', Pos 0, Type: Integer", raw_value="abc",
    raw_line='{"artist": "Des\'ree", "sessionId": "abc", "ts": 1541106106796}',
)
BAD_LENGTH = sys_load_error_row(
    "s3://udacity-dend/log_data/2018/11/2018-11-02-events.json", 7, "length",
    "Invalid digit, Value 'l', Pos 0, Type: Double", code=1208, raw_value="long",
)


@pytest.mark.parametrize("max_errors", [0, 5])
def test_dry_run_lists_exactly_what_a_redshift_run_sends(max_errors):
    fake = FakeRedshift()
    result = api.run(fake, "redshift", None, max_errors, settings=redshift_config())
    assert result.committed
    assert comparable(fake.sent) == comparable(statements_of(api.plan("redshift", redshift_config(), max_errors)))


def test_every_redshift_statement_parses_with_a_redshift_grammar():
    """All the statements the project can send to Redshift, one by one."""
    emitted = (
        statements_of(api.plan("redshift", redshift_config(), 5, None))
        + create_statements("redshift")
        + [statement
           for views in (redshift_errors.CLUSTER, redshift_errors.SERVERLESS)
           for which in (views.this_copy("staging_events_new", 101), views.of_query(102))
           for statement in (views.before_run, views.copy_result("staging_events", 101), views.newest_after(101),
                             redshift_errors.load_errors_query(which, views, offset=1000),
                             redshift_errors.counts_query(which, views))]
        + [redshift.staged_ts_out_of_range_select.format(table="staging_events_new", limit=1000, offset=1000),
           redshift.staged_ts_out_of_range_delete.format(table="staging_events")]
        + [RedshiftEngine.inline(*redshift_errors.insert_rejected(
            redshift_errors.rejected_records("staging_events", [BAD_SESSION])))]
    )
    for statement in emitted:
        [parsed] = sqlglot.parse(statement, read="redshift")
        # sqlglot has no grammar for LOCK, which Redshift documents (r_LOCK): it parses as a bare command
        understood = not isinstance(parsed, exp.Command) or statement.startswith(("LOCK ", "VACUUM "))
        assert understood, f"not understood: {statement[:80]}"


def test_the_redshift_path_avoids_what_commits_implicitly_or_redshift_lacks():
    statements = statements_of(api.plan("redshift", redshift_config(), 5))
    committed = statements.index("COMMIT")
    assert all(statement.startswith("VACUUM DELETE ONLY ") for statement in statements[committed + 1:])
    plan = " ".join(statements[:committed])
    for unwanted in ("TRUNCATE", "VACUUM", "FROM STDIN", "pg_try_advisory", "COLLATE", "GENERATED",
                     "ON CONFLICT", "to_timestamp", "TIMESTAMPTZ", "TIME ZONE"):
        assert unwanted.lower() not in plan.lower()


def test_dry_run_prints_the_whole_sequence_as_sql_without_connecting(tmp_path):
    config = write_config(tmp_path / "dwh.cfg", redshift_config(CLUSTER__DB_PASSWORD="s3cr3t!"))
    result = run_script("etl.py", "--dry-run", "--config", config, "--dsn", "postgresql://x:pw@127.0.0.1:1/none")
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert script.startswith("-- etl.py --dry-run: every statement for redshift, in order; the run's in one "
                             "transaction\n")
    assert "s3cr3t" not in script and "pw@" not in script
    planned = statements_of(api.plan("redshift", redshift_config(), 0))
    parsed = [expression for expression in sqlglot.parse(script, read="redshift") if expression is not None]
    assert len(parsed) == len(planned) == script.count(";\n")
    assert "\nCOMMIT;\n" in script and script.rstrip().endswith("VACUUM DELETE ONLY loaded_files;")


def test_dry_run_for_postgres_says_how_the_loader_stages(tmp_path):
    result = run_script("etl.py", "--dry-run", "--engine", "postgres")
    assert result.returncode == 0, result.stderr
    assert "-- staging_events, staging_songs: the project's loader reads" in result.stdout
    assert "SELECT pg_try_advisory_xact_lock(" in result.stdout and "IAM_ROLE" not in result.stdout


def test_each_redshift_statement_is_logged_with_its_duration():
    fake = FakeRedshift()
    log = io.StringIO()
    api.run(fake, "redshift", None, 0, reporter=Reporter(stream=log), settings=redshift_config())
    lines = [line for line in log.getvalue().splitlines() if re.match(r"^ +\d+\.\d\d s  ", line)]
    run = fake.sent[fake.sent.index("ROLLBACK") + 1:]  # after the read of the source the warehouse holds
    sent = [statement for statement in run if statement not in ("BEGIN", "COMMIT")]
    assert len(lines) == len(sent)
    assert any("s  COPY staging_events FROM 's3://udacity-dend/log_data/' IAM_ROLE" in line for line in lines)


# ---------------------------------------------------------------------------
# Load errors
# ---------------------------------------------------------------------------


def test_rows_shaped_like_sys_load_error_detail_become_rejected_records():
    [record] = redshift_errors.rejected_records("staging_events", [BAD_SESSION])
    assert record == RejectedRecord(
        table_name="staging_events",
        source_file="s3://udacity-dend/log_data/2018/11/2018-11-01-events.json",
        line_number=2,
        column_name="session_id",
        reason="Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)",
        raw_value="abc",
        raw_record='{"artist": "Des\'ree", "sessionId": "abc", "ts": 1541106106796}',
    )
    assert record.describe() == (
        "s3://udacity-dend/log_data/2018/11/2018-11-01-events.json:2, column session_id: "
        "Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)"
    )


def test_a_row_with_blank_or_missing_columns_still_reads():
    row = {"file_name": " " * 256, "line_number": None, "column_name": " " * 127, "error_message": None}
    [record] = redshift_errors.rejected_records("staging_songs", [row])
    assert record.describe() == "(unknown file):0: rejected by COPY"
    assert record.raw_value is None and record.raw_record == ""


def test_a_failed_copy_shows_what_redshift_knows_and_leaves_the_warehouse():
    fake = FakeRedshift(fail="staging_events", load_errors=[BAD_SESSION])
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=redshift_config())
    lines = str(failure.value).splitlines()
    assert lines[0] == (
        "staging_events: s3://udacity-dend/log_data/2018/11/2018-11-01-events.json:2, column session_id: "
        "Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)"
    )
    assert lines[1] == '  record: {"artist": "Des\'ree", "sessionId": "abc", "ts": 1541106106796}'
    assert lines[2].startswith("The load stopped: 1 rejected record(s), more than --max-errors 0 (Redshift said: "
                               "Load into table 'staging_events' failed.")
    assert [record.line_number for record in failure.value.rejected] == [2]
    # rolled back before asking (the COPY aborted the transaction), and never committed; the failed COPY is
    # this session's newest above where the run began (no row of this process id before it: -1)
    failed_copy = fake.sent.index(next(s for s in fake.sent if s.strip().startswith("COPY staging_events")))
    assert fake.sent[failed_copy + 1] == "ROLLBACK"
    assert "WHERE session = pg_backend_pid() AND query > -1" in fake.sent[failed_copy + 3]
    assert "COMMIT" not in fake.sent


def test_a_copy_that_could_not_read_s3_points_at_the_doctor():
    fake = FakeRedshift(fail="staging_songs")
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=redshift_config())
    assert str(failure.value).splitlines() == [
        "staging_songs: COPY failed: S3ServiceException:Access Denied. Load into table 'staging_songs' failed.",
        "Redshift recorded no rejected record for it, so it could not read the files: "
        "python doctor.py checks the IAM role, the region and the S3 paths.",
    ]
    # the records of the events COPY (id 101) are not taken for the songs COPY's
    [asked] = [statement for statement in fake.sent if "AND query > " in statement]
    assert "AND query > 101" in asked


BAD_SONG = sys_load_error_row(
    "s3://udacity-dend/song_data/A/B/C/TRABCEI128F424C983.json", 1, "year",
    "Invalid digit, Value 'n', Pos 0, Type: Integer", raw_value="nineteen", raw_line='{"year": "nineteen"}',
)


def test_a_failed_copy_after_one_that_skipped_records_names_its_own_file_and_line():
    """pg_last_copy_id() still names the events' COPY after the songs' COPY failed and was rolled back:
    the failed COPY is found as this session's newest COPY after the events'."""
    fake = FakeRedshift(fail="staging_songs", load_errors=[BAD_SONG], errors_for={"staging_songs"})
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=redshift_config())
    lines = str(failure.value).splitlines()
    assert lines[0] == ("staging_songs: s3://udacity-dend/song_data/A/B/C/TRABCEI128F424C983.json:1, column year: "
                        "Invalid digit, Value 'n', Pos 0, Type: Integer (error 1207)")
    assert lines[1] == '  record: {"year": "nineteen"}'
    assert [record.line_number for record in failure.value.rejected] == [1]


FAR_FUTURE = {"ts": 253_402_300_800_000, "session_id": 7, "item_in_session": 1, "user_id": 9, "page": "NextSong"}


def test_a_staged_ts_outside_the_contract_is_rejected_as_the_local_loader_rejects_it():
    """COPY loads any BIGINT; the engine moves an event the contract cannot hold to rejected_records."""
    fake = FakeRedshift(out_of_range=[FAR_FUTURE])
    result = api.run(fake, "redshift", None, 5, settings=redshift_config())
    assert result.committed
    events = result.loads[0]
    [record] = events.rejected
    assert (record.table_name, record.column_name, record.raw_value) == ("staging_events", "ts", "253402300800000")
    assert record.reason == (f"253402300800000 is out of range: {RANGE_MEANING['ts']}")
    assert record.source_file == "(staged by COPY from s3://udacity-dend/log_data/: the file is not known)"
    assert '"session_id": 7' in record.raw_record and events.rows == 8055
    delete = fake.sent.index(redshift.staged_ts_out_of_range_delete.format(table="staging_events"))
    kept = next(i for i, s in enumerate(fake.sent) if s.startswith("INSERT INTO rejected_records"))
    analyzed = next(i for i, s in enumerate(fake.sent) if s.startswith("ANALYZE staging_events"))
    assert delete < kept < analyzed < fake.sent.index("COMMIT")
    assert "253402300800000" in fake.sent[kept]


def test_a_staged_ts_outside_the_contract_counts_against_max_errors():
    fake = FakeRedshift(out_of_range=[FAR_FUTURE])
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=redshift_config())
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("staging_events: (staged by COPY from s3://udacity-dend/log_data/: the file is not "
                               "known):0, column ts: 253402300800000 is out of range: epoch milliseconds from")
    assert lines[2] == ("The load stopped: 1 rejected record(s), more than --max-errors 0. Fix the source, or "
                        "rerun with --max-errors N to load the good records and keep the rejected ones in "
                        "rejected_records.")
    assert "COMMIT" not in fake.sent and fake.sent[-1] == "ROLLBACK"


SERVERLESS_HOST = "sparkify.123456789012.us-west-2.redshift-serverless.amazonaws.com"


@pytest.mark.parametrize("values", [{"CLUSTER__HOST": SERVERLESS_HOST},
                                    {"CLUSTER__HOST": "my-proxy.example.com", "DWH__DEPLOYMENT": "serverless"}])
def test_serverless_is_a_flavour_chosen_by_the_endpoint_or_the_deployment(values):
    engine = RedshiftEngine(redshift_config(**values))
    assert engine.views is redshift_errors.SERVERLESS and engine.label == "Amazon Redshift Serverless"
    assert RedshiftEngine(redshift_config()).views is redshift_errors.CLUSTER
    assert type(engine.dry_run()) is type(engine)


def test_a_dsn_naming_a_serverless_workgroup_gets_the_serverless_flavour(monkeypatch, tmp_path):
    """etl.py --dsn: the host connected to decides, not only [CLUSTER] HOST."""
    fake = FakeRedshift(host=SERVERLESS_HOST, fail="staging_songs", load_errors=[BAD_SONG],
                        errors_for={"staging_songs"})
    fake.close = lambda: None
    monkeypatch.setattr(target_connection, "connect", lambda target: fake)
    path = write_config(tmp_path / "dwh.cfg", redshift_config(CLUSTER__HOST=""))
    code = etl.main(["--dsn", f"postgresql://u@{SERVERLESS_HOST}:5439/dev", "--engine", "redshift",
                     "--config", path, "--full"])
    assert code != 0
    assert any("FROM sys_load_error_detail" in statement for statement in fake.sent)
    assert not any("stl_load_errors" in statement for statement in fake.sent)


def serverless_config():
    return redshift_config(CLUSTER__HOST=SERVERLESS_HOST)


def test_on_serverless_skipped_records_come_from_sys_load_error_detail():
    fake = FakeRedshift(load_errors=[BAD_SESSION], errors_for={"staging_events"})
    result = api.run(fake, "redshift", None, 5, settings=serverless_config())
    assert result.committed
    [events, songs] = result.loads
    assert songs.rejected == []
    [record] = events.rejected
    assert record == RejectedRecord(
        table_name="staging_events",
        source_file="s3://udacity-dend/log_data/2018/11/2018-11-01-events.json",
        line_number=2, column_name="session_id",
        reason="Invalid digit, Value 'a', Pos 0, Type: Integer (error 1207)", raw_value=None, raw_record="",
    )
    asked = " ".join(fake.sent)
    assert "stl_load_errors" not in asked and "pg_last_copy_id" not in asked
    assert "FROM sys_load_error_detail" in asked and "FROM sys_load_history" in asked
    planned = statements_of(api.plan("redshift", serverless_config(), 5))
    # the plan, and the two statements that read and keep the rejected records the plan could not know of;
    # the query ids that bound each lookup are known only as the run goes
    [read] = [statement for statement in fake.sent if "LIMIT 1000 OFFSET 0" in statement]
    sent = [statement for statement in fake.sent if statement != read and not statement.startswith("INSERT INTO rej")]
    assert comparable([re.sub(r"query_id > \d+", "query_id > -1", statement) for statement in sent]) \
        == comparable(planned)


def test_on_serverless_a_failed_copy_names_its_file_and_line():
    fake = FakeRedshift(fail="staging_songs", load_errors=[BAD_SONG], errors_for={"staging_songs"})
    with pytest.raises(LoadError) as failure:
        api.run(fake, "redshift", None, 0, settings=serverless_config())
    lines = str(failure.value).splitlines()
    assert lines[0] == ("staging_songs: s3://udacity-dend/song_data/A/B/C/TRABCEI128F424C983.json:1, column year: "
                        "Invalid digit, Value 'n', Pos 0, Type: Integer (error 1207)")
    assert lines[1].startswith("The load stopped: 1 rejected record(s), more than --max-errors 0")
    [asked] = [statement for statement in fake.sent if "MAX(query_id)\nFROM sys_load_error_detail" in statement]
    assert "WHERE session_id = pg_backend_pid() AND query_id > 101" in asked


@pytest.mark.parametrize("table_name", ["staging_events", "staging_songs"])
def test_a_copy_that_loads_no_row_is_an_error(table_name):
    rows = {"staging_events": 8056, "staging_songs": 71, table_name: 0}
    fake = FakeRedshift(rows=rows)
    where = {"staging_events": "log_data/", "staging_songs": "song_data/"}[table_name]
    with pytest.raises(LoadError, match=rf"{table_name}: COPY loaded no rows from s3://udacity-dend/{where}: "):
        api.run(fake, "redshift", None, 0, settings=redshift_config())
    assert fake.sent[-1] == "ROLLBACK" and "COMMIT" not in fake.sent


def test_records_skipped_under_max_errors_are_listed_and_kept():
    fake = FakeRedshift(load_errors=[BAD_SESSION, BAD_LENGTH])
    result = api.run(fake, "redshift", None, 5, settings=redshift_config())
    assert result.committed
    assert [len(load.rejected) for load in result.loads] == [2, 2]  # the fake answers both COPYs alike
    [insert] = [statement for statement in fake.sent if statement.startswith("INSERT INTO rejected_records")]
    assert "'s3://udacity-dend/log_data/2018/11/2018-11-01-events.json', 2, 'session_id'" in insert
    text = summary(result)
    assert "rejected records: 4" in text
    assert ("  rejected staging_events s3://udacity-dend/log_data/2018/11/2018-11-02-events.json:7, "
            "column length: Invalid digit, Value 'l', Pos 0, Type: Double (error 1208)") in text


def test_kept_records_insert_as_they_read(warehouse):
    records = [
        RejectedRecord("staging_songs", "s3://b/song_data/A/B/C/TR1.json", 1, "title",
                       "String length exceeds DDL length (error 1204)", "Beyoncé" * 200, "{\"title\": \"it's\"}"),
        RejectedRecord("staging_events", "s3://b/log_data/x.json", 3, None, "Invalid JSON", None, "{oops"),
    ]
    with warehouse.connection.cursor() as cursor:
        cursor.execute(*redshift_errors.insert_rejected(records))
        cursor.execute("SELECT table_name, line_number, column_name, octet_length(raw_value), raw_record "
                       "FROM rejected_records ORDER BY line_number")
        rows = cursor.fetchall()
    warehouse.connection.rollback()
    assert rows == [("staging_songs", 1, "title", 1024, '{"title": "it\'s"}'),
                    ("staging_events", 3, None, None, "{oops")]


# ---------------------------------------------------------------------------
# Parity traps between the engines
# ---------------------------------------------------------------------------


def test_no_column_is_text_or_an_unsized_varchar():
    """Redshift reads TEXT as VARCHAR(256) and an unsized VARCHAR likewise: every size is written."""
    for statement in q.create_table_queries:
        for data_type in sqlglot.parse_one(statement, read="redshift").find_all(exp.DataType):
            assert data_type.this not in (exp.DataType.Type.TEXT, exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR)
            if data_type.this == exp.DataType.Type.VARCHAR:
                assert data_type.expressions, f"unsized VARCHAR in {statement.split('(')[0].strip()}"


def longest_values_in_bytes(warehouse):
    """(table, column, declared size, longest value in bytes) for every VARCHAR column."""
    columns = warehouse.query(
        "SELECT table_name, column_name, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type = 'character varying' ORDER BY 1, 2"
    )
    return [
        (table, column, size, warehouse.query(f"SELECT COALESCE(MAX(OCTET_LENGTH({column})), 0) FROM {table}")[0][0])
        for table, column, size in columns
    ]


def test_every_value_fits_its_varchar_in_bytes_as_redshift_counts(warehouse, tmp_path):
    """PostgreSQL's VARCHAR(n) counts characters; Redshift's counts bytes: check the bytes."""
    multibyte = write_source(
        tmp_path,
        events=[event(artist="Sigur Rós" * 50, song="Hoppípolla ☃" * 30, location="Zürich, ZH" * 50)],
        songs=[song(artist_name="Sigur Rós" * 50, title="Hoppípolla ☃" * 30, artist_location="Reykjavík" * 60)],
    )
    for source in [multibyte] + [sample for sample in (BUNDLED_SAMPLE, UDACITY_SAMPLE) if sample.exists()]:
        warehouse.load(source)
        for table, column, size, longest in longest_values_in_bytes(warehouse):
            assert longest <= size, f"{table}.{column}: {longest} bytes in a VARCHAR({size})"


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kathmandu", "Pacific/Chatham"])
def test_epoch_milliseconds_give_the_same_plain_timestamp_in_any_session_time_zone(warehouse, zone):
    with warehouse.connection.cursor() as cursor:
        cursor.execute(f"SET TIME ZONE '{zone}'")
        cursor.execute(f"SELECT {q.START_TIME}, pg_typeof({q.START_TIME}) FROM (SELECT 1541106106796 AS ts) AS e")
        value, kind = cursor.fetchone()
    warehouse.connection.rollback()
    assert (value, kind) == (datetime(2018, 11, 1, 21, 1, 46, 796000), "timestamp without time zone")


# ---------------------------------------------------------------------------
# The connection
# ---------------------------------------------------------------------------


class Info:
    def __init__(self, ssl_in_use):
        self.ssl_in_use = ssl_in_use


class Connected:
    def __init__(self, ssl_in_use):
        self.info = Info(ssl_in_use)


def test_redshift_over_an_unencrypted_connection_is_refused():
    with pytest.raises(TargetError, match="the connection to Redshift is not encrypted"):
        RedshiftEngine().check_connection(Connected(False))
    RedshiftEngine().check_connection(Connected(True))
    PostgresEngine().check_connection(Connected(False))


def tls(sslmode="", sslrootcert=""):
    return config_module.parse({"CLUSTER": {"SSLMODE": sslmode, "SSLROOTCERT": sslrootcert}})


@pytest.mark.parametrize(
    "sslmode, expected",
    [("", {"sslmode": "verify-full", "sslrootcert": "STORE"}),
     ("verify-ca", {"sslmode": "verify-ca", "sslrootcert": "STORE"}),
     ("require", {"sslmode": "require"}), ("prefer", {"sslmode": "prefer"})],
)
def test_tls_checks_the_server_by_default_against_the_systems_trust_store(sslmode, expected, monkeypatch, tmp_path):
    """verify-full unless SSLMODE relaxes it: the certificate must be for the host, from a CA the system trusts
    (Redshift's come from ACM, publicly trusted: connecting-ssl-support.html)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    store = tmp_path / "ca-certificates.crt"
    store.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(store))  # where this Python's OpenSSL finds the system's CAs
    expected = {key: str(store) if value == "STORE" else value for key, value in expected.items()}
    assert target_connection.tls_settings(tls(sslmode)) == expected


def test_without_any_ca_certificate_verify_full_says_how_to_get_amazons(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(target_connection, "system_trust_store", lambda: None)
    with pytest.raises(TargetError, match=re.escape(
            "SSLMODE=verify-full checks the server's certificate, but this machine has no CA certificates to "
            "check it with: download Amazon's CA bundle, https://s3.amazonaws.com/redshift-downloads/"
            "amazon-trust-ca-bundle.crt, and set [CLUSTER] SSLROOTCERT to its path (or SSLMODE=require")):
        target_connection.tls_settings(tls(""))
    assert target_connection.tls_settings(tls("require")) == {"sslmode": "require"}


def test_a_ca_bundle_is_the_root_of_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    bundle = tmp_path / "amazon-trust-ca-bundle.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert target_connection.tls_settings(tls("", str(bundle))) == {
        "sslmode": "verify-full", "sslrootcert": str(bundle)}
    with pytest.raises(TargetError, match="SSLROOTCERT .* not found"):
        target_connection.tls_settings(tls("", str(tmp_path / "missing.crt")))
    # libpq's own variable, and its own file, name a bundle too: libpq reads them itself
    pgsslrootcert = config_module.parse({"CLUSTER": {"SSLMODE": "verify-full"}}, {"PGSSLROOTCERT": str(bundle)})
    assert target_connection.tls_settings(pgsslrootcert) == {"sslmode": "verify-full"}
    (tmp_path / ".postgresql").mkdir()
    (tmp_path / ".postgresql" / "root.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    assert target_connection.tls_settings(tls("")) == {"sslmode": "verify-full"}


def test_every_connection_sends_tcp_keepalives(dsn):
    """AWS's figures for a firewall that drops a silent connection (connecting-firewall-guidance.html):
    a COPY of many minutes must not leave the client waiting for good."""
    connection = target_connection.connect(target_connection.Target(dsn, "the test server", True))
    try:
        parameters = connection.get_dsn_parameters()
    finally:
        connection.close()
    assert {key: parameters.get(key) for key in target_connection.KEEPALIVES} == {
        "keepalives": "1", "keepalives_idle": "200", "keepalives_interval": "200", "keepalives_count": "5"}


def test_a_dsn_that_sets_its_keepalives_keeps_them(dsn):
    own = psycopg2.extensions.make_dsn(dsn, keepalives_idle=30)
    connection = target_connection.connect(target_connection.Target(own, "the test server", True))
    try:
        assert connection.get_dsn_parameters()["keepalives_idle"] == "30"
    finally:
        connection.close()


class Versioned:
    """A connection whose server says ``version``."""

    def __init__(self, version):
        self.version = version

    def cursor(self):
        connection = self

        class Cursor:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def execute(self, statement):
                assert statement == "SELECT version()"

            def fetchone(self):
                return (connection.version,)

        return Cursor()

    def rollback(self):
        pass


@pytest.mark.parametrize(
    "version, engine",
    [
        ("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), "
         "Redshift 1.0.73348", "redshift"),
        ("PostgreSQL 18.1 on x86_64-pc-linux-gnu, compiled by gcc", "postgres"),
    ],
)
def test_the_engine_is_what_the_server_says(version, engine):
    assert detect_engine(Versioned(version)) == engine


def test_a_refused_login_is_not_retried(dsn):
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = "no_such_database"
    target = target_connection.Target(psycopg2.extensions.make_dsn(**params), "the test server", False, None)
    with pytest.raises(TargetError, match="the test server refused the connection: .*does not exist"):
        target_connection.connect(target, attempts=3)


# ---------------------------------------------------------------------------
# The pre-flight check: doctor.py
# ---------------------------------------------------------------------------

BUCKET = "sparkify-doctor"


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """moto's S3 and Redshift; a source in s3://BUCKET/sample; a cluster with the role attached."""
    with environment(FAKE_AWS), moto_server() as endpoint, environment({"AWS_ENDPOINT_URL": endpoint}):
        make_bucket(endpoint, BUCKET)
        folder = write_source(tmp_path_factory.mktemp("doctor"), events=[event()], songs=[song()])
        upload(endpoint, folder, BUCKET, "sample")
        s3(endpoint).put_object(Bucket=BUCKET, Key="empty/", Body=b"")
        s3(endpoint).put_object(Bucket=BUCKET, Key="notjson/readme.txt", Body=b"hello")
        s3(endpoint).put_object(Bucket=BUCKET, Key="short/log_json_path.json", Body=b'{"jsonpaths": ["$.ts"]}')
        s3(endpoint).put_object(Bucket=BUCKET, Key="upper/log_data/2018/11/EVENTS.JSON", Body=b"{}")
        cluster = boto3.client("redshift", region_name="us-west-2").create_cluster(
            ClusterIdentifier="sparkify", NodeType="dc2.large", MasterUsername="awsuser",
            MasterUserPassword="Passw0rd1", IamRoles=[ROLE],
        )["Cluster"]
        yield {"endpoint": endpoint, "host": cluster["Endpoint"]["Address"]}


def test_doctor_passes_a_ready_local_target_with_an_s3_source(warehouse, aws, tmp_path, capsys):
    config = tmp_path / "dwh.cfg"
    config.write_text("")
    code = doctor_command.main(["--dsn", warehouse.dsn, "--config", str(config), "--source", f"s3://{BUCKET}/sample"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert [line.split()[0] for line in out[1:-1]] == ["ok"] * 5
    assert out[-1] == f"No problem found in 5 checks: {doctor.python_command()} etl.py can run."


def test_doctor_says_to_create_the_tables(dsn, aws, tmp_path):
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS doctor_empty CASCADE")
        cursor.execute("CREATE SCHEMA doctor_empty")
    admin.close()
    empty = psycopg2.extensions.make_dsn(dsn, options="-c search_path=doctor_empty")
    findings = doctor.diagnose(dsn=empty, config_file=write_config(tmp_path / "dwh.cfg", redshift_config()),
                               source=f"s3://{BUCKET}/sample")
    assert str(findings[1]) == (
        "FAIL  tables missing: staging_events, staging_songs, rejected_records, songplay_table, user_table, "
        f"song_table, artist_table, time_table, loaded_files: run {doctor.python_command()} create_tables.py"
    )


def test_doctor_finds_the_attached_role(aws):
    assert str(doctor.check_iam_role(redshift_config(), aws["host"])) == (
        f"ok    the IAM role {ROLE} is attached to cluster sparkify"
    )


def test_doctor_finds_a_role_that_is_not_attached(aws):
    other = "arn:aws:iam::123456789012:role/someOtherRole"
    finding = doctor.check_iam_role(redshift_config(IAM_ROLE__ARN=other), aws["host"])
    assert str(finding) == (
        f"FAIL  the IAM role {other} of [IAM_ROLE] ARN is not attached to cluster sparkify (attached: {ROLE}): "
        f"attach it (aws redshift modify-cluster-iam-roles --cluster-identifier sparkify --add-iam-roles {other}) "
        "or set ARN to an attached role"
    )


def test_doctor_finds_no_such_cluster(aws):
    finding = doctor.check_iam_role(redshift_config(), "gone.abc123.us-west-2.redshift.amazonaws.com")
    assert str(finding) == (
        "FAIL  cluster gone not found in us-west-2: check [CLUSTER] HOST, or [DWH] CLUSTER_IDENTIFIER"
    )


@pytest.mark.parametrize(
    "region, expected",
    [
        ("us-west-2", f"ok    s3://{BUCKET} is in us-west-2, as [S3] REGION says"),
        ("us-east-1", f"FAIL  s3://{BUCKET} is in us-west-2, but [S3] REGION is us-east-1: set REGION=us-west-2"),
        (None, f"FAIL  [S3] REGION is empty, so COPY reads s3://{BUCKET} in the cluster's region, which is not "
               "known here: set [DWH] REGION, or set [S3] REGION=us-west-2"),
    ],
)
def test_doctor_compares_the_bucket_region_with_the_config(aws, region, expected):
    assert str(doctor.check_region(s3(aws["endpoint"]), BUCKET, region)) == expected


@pytest.mark.parametrize(
    "cluster_region, expected",
    [
        ("us-west-2", f"ok    s3://{BUCKET} is in us-west-2, the cluster's region: COPY needs no REGION"),
        ("eu-west-1", f"FAIL  s3://{BUCKET} is in us-west-2, but [S3] REGION is empty, so COPY looks for it in the "
                      "cluster's region, eu-west-1: set REGION=us-west-2"),
    ],
)
def test_doctor_without_s3_region_wants_the_bucket_in_the_clusters_region(aws, cluster_region, expected):
    assert str(doctor.check_region(s3(aws["endpoint"]), BUCKET, None, cluster_region)) == expected


def s3_part(aws, url):
    """(the S3 source holding ``url``, its name there), as doctor.py opens them."""
    parent, name = doctor.source_part(url)
    return S3Source(parent, endpoint_url=aws["endpoint"]), name


@pytest.mark.parametrize(
    "url, expected",
    [
        (f"s3://{BUCKET}/sample/log_data", "ok    s3://sparkify-doctor/sample/log_data holds .json files "
                                           "(log_data/2018/11/2018-11-01-events.json, ...)"),
        (f"s3://{BUCKET}/upper/log_data", "ok    s3://sparkify-doctor/upper/log_data holds .json files "
                                          "(log_data/2018/11/EVENTS.JSON, ...)"),
        (f"s3://{BUCKET}/nothing", f"FAIL  s3://{BUCKET}/nothing holds no .json file: check the path"),
        (f"s3://{BUCKET}/empty/", f"FAIL  s3://{BUCKET}/empty holds no .json file: check the path"),
        (f"s3://{BUCKET}/notjson", f"FAIL  s3://{BUCKET}/notjson holds no .json file: check the path"),
        ("s3://no-such-bucket-here/x", "FAIL  s3://no-such-bucket-here: no such bucket: check the bucket name"),
    ],
)
def test_doctor_checks_that_each_prefix_holds_json_as_the_loader_lists_it(aws, url, expected):
    source, name = s3_part(aws, url)
    assert str(doctor.check_files(source, name, "check the path")) == expected


def test_doctor_checks_the_jsonpaths_against_the_table(aws):
    url = f"s3://{BUCKET}/short/log_json_path.json"
    finding = doctor.check_jsonpaths(*s3_part(aws, url), columns=18)
    assert str(finding) == (f"FAIL  {url} has 1 paths but staging_events has 18 columns: "
                            "they must match one to one, in order")
    missing = f"s3://{BUCKET}/sample/nothing.json"
    assert str(doctor.check_jsonpaths(*s3_part(aws, missing), 18)) == (
        f"FAIL  {missing} not found: the JSONPaths file of the events must be there")


def test_the_star_is_emptied_inside_the_transaction_on_each_engine():
    """DELETE on Redshift (its TRUNCATE commits); one TRUNCATE on PostgreSQL, where it is
    transactional and avoids a foreign-key check per deleted row (quadratic on big loads)."""
    assert RedshiftEngine().clear_star() == q.clear_star_queries
    assert all(statement.startswith("DELETE FROM ") for statement in RedshiftEngine().clear_star())
    assert PostgresEngine().clear_star() == [
        "TRUNCATE songplay_table, user_table, song_table, artist_table, time_table"
    ]


def test_a_full_reload_vacuums_after_its_commit_and_a_failed_vacuum_is_only_a_warning():
    class VacuumRefused(FakeCursor):
        def execute(self, statement, params=None):
            super().execute(statement, params)
            if statement.startswith("VACUUM"):
                raise psycopg2.errors.InsufficientPrivilege("permission denied: must be owner to vacuum")

    fake = FakeRedshift()
    fake.cursor = lambda: VacuumRefused(fake)
    log = io.StringIO()
    result = api.run(fake, "redshift", None, 0, reporter=Reporter(stream=log), settings=redshift_config())
    assert result.committed
    committed = fake.sent.index("COMMIT")
    assert fake.sent[committed + 1] == "VACUUM DELETE ONLY staging_events"
    assert "warning: the load is committed, but VACUUM DELETE ONLY failed (permission denied" in log.getvalue()


def test_a_full_reload_vacuums_every_table_it_deleted_from():
    """The reload DELETEs from staging, rejected_records, the star and loaded_files: each is vacuumed."""
    fake = FakeRedshift()
    assert api.run(fake, "redshift", None, 0, settings=redshift_config()).committed
    after_commit = fake.sent[fake.sent.index("COMMIT") + 1:]
    deleted = {statement.split()[2] for statement in fake.sent if statement.startswith("DELETE FROM ")}
    assert deleted == set(q.all_tables)
    assert after_commit == [f"VACUUM DELETE ONLY {table}" for table in q.all_tables]
