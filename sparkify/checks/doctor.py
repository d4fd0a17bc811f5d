"""Check, before a load, what people most often get wrong: one line each, saying what to fix.

    python doctor.py                                 # the target and S3 paths of dwh.cfg
    python doctor.py --source s3://my-bucket/sparkify
    python doctor.py --dsn postgresql://me@db.example.com/dwh --source ../my-data

The checks, in order (one that cannot run says why, "skip", and the rest go on):

1. the target answers, and what it is (asked of the server, as etl.py does);
   a Redshift connection must be encrypted; ``--engine redshift`` does not
   apply to the embedded PostgreSQL, which is never Redshift;
2. the tables exist (create_tables.py has run);
3. Redshift: the IAM role of ``[IAM_ROLE] ARN`` is attached to the cluster,
   or, for a Serverless endpoint, the workgroup is AVAILABLE and the role is
   attached to its namespace (asked of the AWS APIs: this one needs AWS
   credentials);
4. Redshift: each source bucket is in the region ``[S3] REGION`` says, as
   COPY needs; and no COPY would read from two regions (COPY with REGION
   needs every file it reads in that region: the data, the JSONPaths file
   and a daily run's manifest under ``[S3] MANIFEST_PREFIX``);
5. the source is there and not empty, read through sparkify/sources/ as
   etl.py reads it (the same listing, ``.json`` in any case, and the same
   guards: never a FIFO or a device, the JSONPaths file at most 4 MB):
   log_data and song_data hold ``.json`` files, and the JSONPaths file has
   one path per staging_events column. What a load would leave out is a
   ``warn`` line.

A finding that says what to fix names what the person gave: ``--dsn`` or
DWH_DSN, else the config's [CLUSTER]; ``--source``, else the [S3] paths.
Exit status 0 when no check failed; 2 when a failed one is of the
configuration or of reaching the target or S3; 1 otherwise (sparkify/cli.py).
"""

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

import sql_queries as q
from sparkify.aws import clients, iam_auth, serverless
from sparkify.config import Settings, TargetError, load_settings, target_choice
from sparkify.engines import detect_engine, embedded, engine_named, libpq
from sparkify.engines.connect import choose_target, connect
from sparkify.engines.errors import DatabaseError
from sparkify.output.printable import printable
from sparkify.run.ledger import held_source
from sparkify.run.which_source import run_locations
from sparkify.sources import SourceError, SourceUnreachable, is_s3, open_source
from sparkify.sources.jsonpaths import JsonPathsError, source_jsonpaths
from sparkify.sources.s3 import bucket_region, explain, s3_client

# <cluster>.<id>.<region>.redshift.amazonaws.com, the form of a provisioned cluster's endpoint
CLUSTER_ENDPOINT = re.compile(r"^([a-z][a-z0-9-]*)\.[a-z0-9]+\.([a-z]{2}(?:-[a-z]+)+-\d)\.redshift\.amazonaws\.com")
TABLES = q.staging_tables + ["rejected_records"] + q.star_tables + ["loaded_files"]


def python_command() -> str:
    """The interpreter the person ran, as they would type it: relative to the current folder when inside it."""
    executable = os.path.abspath(sys.executable or "python")
    try:
        relative = os.path.relpath(executable)
    except ValueError:  # another drive
        return executable
    return executable if relative.startswith("..") else relative


@dataclass
class Finding:
    status: str  # "ok", "FAIL", "warn" (a load would go on, leaving something out) or "skip"
    text: str
    setup: bool = False  # a failure of the configuration, or of reaching the target or S3 (exit status 2)

    def __str__(self):
        return f"{self.status:<5} {self.text}"


def ok(text):
    return Finding("ok", text)


def fail(text, setup=False):
    return Finding("FAIL", text, setup)


def source_failure(error: SourceError) -> Finding:
    """A source that could not be read, as a finding: S3 not reached is a failure to reach it, as etl.py's
    (exit status 2)."""
    return fail(str(error), setup=isinstance(error, SourceUnreachable))


def skip(text):
    return Finding("skip", text)


# ---------------------------------------------------------------------------
# The target
# ---------------------------------------------------------------------------


def check_target(target, engine=None, named_by=None):
    """(finding, connection or None, engine or None). ``named_by``: who named the target
    (config.TargetChoice: "--dsn", "$DWH_DSN", "[CLUSTER] HOST"...), for the advice."""
    try:
        connection = connect(target, application="sparkify-doctor")
    except TargetError as error:
        return fail(f"{error}{connection_advice(target, str(error), named_by)}", setup=True), None, engine
    try:
        engine = engine_named(engine or detect_engine(connection), target.settings, host=connection.info.host)
        engine.check_connection(connection)
    except (TargetError, DatabaseError) as error:
        connection.close()
        return fail(str(error).strip(), setup=True), None, engine
    tls = ", over TLS" if connection.info.ssl_in_use else ""
    return ok(f"{target.label} answers: {engine.label}{tls}"), connection, engine


def connection_advice(target, message, named_by=None) -> str:
    """What to check when the target did not answer or refused, about what the person gave:
    --dsn or $DWH_DSN, or the [CLUSTER] section (whose security group only a cluster has)."""
    refused = "refused the connection" in message
    if not refused and "could not connect" not in message:  # a DSN that cannot be parsed says what to do
        return ""
    if target.local:
        return ": the embedded PostgreSQL was started but does not answer: run doctor.py again"
    if named_by in ("--dsn", "$DWH_DSN"):
        if refused:
            return f": check the user, password and database name of {named_by}"
        return (f": check the host and port of {named_by}, that the database is running, and that no firewall "
                "(on AWS, its security group) keeps your address out")
    if refused:
        return ": check [CLUSTER] DB_USER, DB_NAME and the password (DWH_DB_PASSWORD or [CLUSTER] DB_PASSWORD)"
    return (": check [CLUSTER] HOST and DB_PORT, that the cluster is available, "
            "and that its security group lets your address in")


def check_tables(connection, engine, again=""):
    """(finding, number of staging_events columns or None). ``again``: the target's options, for the advice."""
    with engine.cursor_on(connection) as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        found = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'staging_events'"
        )
        columns = cursor.fetchone()[0] or None
    engine.rollback(connection)
    missing = [name for name in TABLES if name not in found]
    if missing:
        return fail(f"tables missing: {', '.join(missing)}: run {python_command()} create_tables.py{again}"), columns
    return ok(f"the {len(TABLES)} tables exist"), columns


# ---------------------------------------------------------------------------
# Redshift: the IAM role
# ---------------------------------------------------------------------------


def cluster_identity(settings: Settings, host):
    """(cluster identifier, region): [DWH] CLUSTER_IDENTIFIER and REGION, else read from the endpoint."""
    match = CLUSTER_ENDPOINT.match(host or "")
    identifier = settings.redshift.cluster_identifier or (match.group(1) if match else None)
    region = settings.redshift.region or (match.group(2) if match else None) or settings.source.region
    return identifier, region


def serverless_endpoint(settings: Settings, host):
    """The workgroup a Serverless endpoint names (or [DWH] says, for another host), else None."""
    endpoint = iam_auth.parse_host(host)
    if endpoint is not None:
        return endpoint if endpoint.kind == "serverless" else None
    if settings.redshift.serverless:
        return iam_auth.endpoint_of(settings, host)
    return None


def check_iam_role(settings: Settings, host, client=None):
    """``client``: a redshift or redshift-serverless client, as the endpoint needs (tests pass a stubbed one)."""
    arn = settings.redshift.iam_role
    if not arn:
        return fail("[IAM_ROLE] ARN is empty: set it to the ARN of the role the cluster uses to read S3")
    workgroup = serverless_endpoint(settings, host)
    if workgroup is not None:
        return check_serverless_role(arn, workgroup, client, settings)
    identifier, region = cluster_identity(settings, host)
    if not identifier:
        return skip(f"cannot tell which cluster {host} is: set [DWH] CLUSTER_IDENTIFIER to check its IAM roles")
    try:
        client = client or clients.client("redshift", settings, region=region)
        [cluster] = client.describe_clusters(ClusterIdentifier=identifier)["Clusters"]
    except NoCredentialsError:
        return skip(f"no AWS credentials here to ask which IAM roles cluster {identifier} has (the COPY will tell)")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ClusterNotFound":
            return fail(f"cluster {identifier} not found in {region}: "
                        "check [CLUSTER] HOST, or [DWH] CLUSTER_IDENTIFIER")
        return skip(f"could not ask AWS which IAM roles cluster {identifier} has ({code})")
    except BotoCoreError as error:
        return skip(f"could not ask AWS which IAM roles cluster {identifier} has ({error})")
    roles = {role["IamRoleArn"]: role.get("ApplyStatus", "") for role in cluster.get("IamRoles", [])}
    if arn not in roles:
        return fail(
            f"the IAM role {arn} of [IAM_ROLE] ARN is not attached to cluster {identifier} "
            f"(attached: {', '.join(roles) or 'none'}): attach it (aws redshift modify-cluster-iam-roles "
            f"--cluster-identifier {identifier} --add-iam-roles {arn}) or set ARN to an attached role"
        )
    if roles[arn] != "in-sync":
        return fail(f"the IAM role {arn} is still being attached to cluster {identifier} ({roles[arn]}): "
                    "wait a minute and check again")
    return ok(f"the IAM role {arn} is attached to cluster {identifier}")


def check_serverless_role(arn, endpoint, client=None, settings=None):
    """The workgroup exists and is AVAILABLE, and the role is attached to its namespace."""
    name, region = endpoint.name, endpoint.region
    try:
        client = client or clients.client("redshift-serverless", settings, region=region)
        workgroup = serverless.get_workgroup(client, name)
        if workgroup is None:
            return fail(f"Serverless workgroup {name} not found in {region or 'the default region'}: "
                        "check [CLUSTER] HOST, or [DWH] WORKGROUP and REGION")
        if workgroup.get("status") != "AVAILABLE":
            return fail(f"Serverless workgroup {name} is {workgroup.get('status')}, not AVAILABLE: wait until "
                        "`python cluster.py status` shows it AVAILABLE")
        namespace_name = workgroup.get("namespaceName")
        namespace = serverless.get_namespace(client, namespace_name) if namespace_name else None
    except NoCredentialsError:
        return skip(f"no AWS credentials here to ask which IAM roles workgroup {name} has (the COPY will tell)")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return skip(f"could not ask AWS which IAM roles workgroup {name} has ({code})")
    except BotoCoreError as error:
        return skip(f"could not ask AWS which IAM roles workgroup {name} has ({error})")
    if namespace is None:
        return fail(f"the namespace {namespace_name} of Serverless workgroup {name} was not found")
    roles = serverless.role_arns(namespace)
    if arn not in roles:
        attached = " ".join(sorted(roles))
        return fail(
            f"the IAM role {arn} of [IAM_ROLE] ARN is not attached to namespace {namespace_name} of workgroup "
            f"{name} (attached: {', '.join(sorted(roles)) or 'none'}): attach it (aws redshift-serverless "
            f"update-namespace --namespace-name {namespace_name} --iam-roles {(attached + ' ' + arn).strip()}) "
            "or set ARN to an attached role"
        )
    if roles[arn] != "in-sync":
        return fail(f"the IAM role {arn} is still being attached to namespace {namespace_name} ({roles[arn]}): "
                    "wait a minute and check again")
    return ok(f"the IAM role {arn} is attached to namespace {namespace_name} of Serverless workgroup {name}, "
              "which is AVAILABLE")


# ---------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------


def split(url):
    """``s3://bucket/key/prefix`` -> (bucket, key prefix as COPY reads it, trailing slash kept)."""
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def check_region(client, bucket, region, cluster_region=None):
    """The bucket is where COPY looks: in [S3] REGION, or in the cluster's region when REGION is empty
    (COPY then has no REGION clause)."""
    try:
        actual = bucket_region(client, bucket)
    except (ClientError, BotoCoreError) as error:
        return source_failure(explain(error, f"s3://{bucket}"))
    if not region:
        if cluster_region is None:
            return fail(f"[S3] REGION is empty, so COPY reads s3://{bucket} in the cluster's region, which is not "
                        f"known here: set [DWH] REGION, or set [S3] REGION={actual}")
        if actual and actual != cluster_region:
            return fail(f"s3://{bucket} is in {actual}, but [S3] REGION is empty, so COPY looks for it in the "
                        f"cluster's region, {cluster_region}: set REGION={actual}")
        return ok(f"s3://{bucket} is in {cluster_region}, the cluster's region: COPY needs no REGION")
    if actual and actual != region:
        return fail(f"s3://{bucket} is in {actual}, but [S3] REGION is {region}: set REGION={actual}")
    return ok(f"s3://{bucket} is in {region}, as [S3] REGION says")


def check_copy_regions(locations, manifest_prefix, region_of):
    """The combinations of regions no COPY can read, whatever [S3] REGION says.

    A COPY with REGION reads every file it needs from that one region: its
    data, its JSONPaths file and, in a daily run, the manifest under
    MANIFEST_PREFIX. ``region_of(bucket)`` gives a bucket's region (None when
    unknown: the bucket checks report that). Returns findings: a FAIL for each
    impossible combination, or one ok line when a manifest prefix is set and
    fits.
    """
    def where(url):
        return region_of(split(url)[0])

    findings = []
    log, jsonpaths = locations["log_data"], locations["log_jsonpath"]
    if where(log) and where(jsonpaths) and where(log) != where(jsonpaths):
        findings.append(fail(
            f"the events' COPY reads {log} ({where(log)}) and its JSONPaths file {jsonpaths} ({where(jsonpaths)}) "
            f"under one REGION, which no COPY can: put the JSONPaths file in a bucket in {where(log)}"
        ))
    if not manifest_prefix:
        return findings
    manifest = where(manifest_prefix)
    if manifest is None:
        return findings
    sources = {url: where(url) for url in (log, locations["song_data"]) if where(url)}
    elsewhere = {url: region for url, region in sources.items() if region != manifest}
    if elsewhere:
        regions = sorted(set(sources.values()))
        fix = (f"set [S3] MANIFEST_PREFIX to a prefix you can write in a bucket in {regions[0]}, the source's region"
               if len(regions) == 1 else "keep the source in one region, and MANIFEST_PREFIX in a bucket there")
        listed = ", ".join(f"{url} in {region}" for url, region in elsewhere.items())
        findings.append(fail(
            f"a daily run's COPY reads the manifest under [S3] MANIFEST_PREFIX {manifest_prefix} ({manifest}) and "
            f"the files it lists under one REGION, but {listed}: no COPY can read both: {fix}"
        ))
    elif sources:
        findings.append(ok(f"a daily run's COPY can read the manifest under {manifest_prefix} and the files it "
                           f"lists: all in {manifest}"))
    return findings


def region_finder(client, problems):
    """region_of(bucket) for check_copy_regions, asking once per bucket; a failure is kept in ``problems``."""
    known = {}

    def region_of(bucket):
        if bucket not in known:
            try:
                known[bucket] = bucket_region(client, bucket)
            except (ClientError, BotoCoreError) as error:
                known[bucket] = None
                problems.append(source_failure(explain(error, f"s3://{bucket}")))
        return known[bucket]
    return region_of


def source_part(location):
    """(the source that holds ``location``, its name there): ``s3://b/p/log_data/`` -> (``s3://b/p``,
    ``log_data``); a folder's ``sample/log_json_path.json`` -> (``sample``, ``log_json_path.json``)."""
    text = str(location)
    if is_s3(text):
        text = text.rstrip("/")
        if "/" not in text[len("s3://"):]:
            return text, ""  # a whole bucket
        parent, _, name = text.rpartition("/")
        return parent, name
    path = Path(text)
    return str(path.parent), path.name


def open_parts(locations, endpoint_url=None, region=None):
    """{part: (source, name)} for log_data, song_data and log_jsonpath, each source opened once,
    with sparkify.sources.open_source as etl.py opens it (a folder, or an S3 prefix)."""
    opened = {}
    parts = {}
    for part in PARTS:
        parent, name = source_part(getattr(locations, part))
        if parent not in opened:
            opened[parent] = open_source(parent, endpoint_url=endpoint_url, region=region)
        parts[part] = (opened[parent], name)
    return parts


PARTS = ("log_data", "song_data", "log_jsonpath")


def check_files(source, name, hint):
    """One ``.json`` file at least below ``name``, found as etl.py lists it (any case of .json)."""
    where = f"{source.label.rstrip('/')}/{printable(name)}" if name else source.label
    try:
        first = source.first_file(name)
    except SourceError as error:
        return source_failure(error)
    if first is None:
        return fail(f"{where} holds no .json file: {hint}")
    return ok(f"{where} holds .json files ({printable(first.name)}, ...)")


def check_jsonpaths(source, name, columns):
    """The JSONPaths file ``name`` of ``source``, read as a load reads it; ``columns``: staging_events'
    width, if known."""
    try:
        paths, where = source_jsonpaths(source, name)
    except SourceUnreachable as error:
        return source_failure(error)
    except JsonPathsError as error:
        return fail(str(error))
    if columns and len(paths) != columns:
        return fail(f"{where} has {len(paths)} paths but staging_events has {columns} columns: "
                    "they must match one to one, in order")
    return ok(f"{where} is a JSONPaths file with {len(paths)} paths")


def check_files_and_jsonpaths(locations, columns, endpoint_url=None, region=None, hints=None):
    """The source as etl.py reads it: each source there and readable, log_data/ and song_data/ holding
    .json files, the JSONPaths file well formed; what the listing left out, as warnings."""
    try:
        parts = open_parts(locations, endpoint_url, region)
    except SourceError as error:
        return [source_failure(error)]
    findings, broken = [], set()
    for source in {id(source): source for source, _ in parts.values()}.values():
        try:
            source.check()
        except SourceError as error:
            findings.append(source_failure(error))
            broken.add(id(source))
    for part in PARTS:
        source, name = parts[part]
        if id(source) in broken:
            continue
        if part == "log_jsonpath":
            findings.append(check_jsonpaths(source, name, columns))
        else:
            findings.append(check_files(source, name, (hints or {}).get(part, "check the path")))
    for source in {id(source): source for source, _ in parts.values()}.values():
        findings += [Finding("warn", line) for line in source.warnings]
        if hasattr(source, "close"):
            source.close()
    return findings


def check_source(settings: Settings, locations, columns, with_region, hints=None, s3_only=None):
    """Redshift: the buckets' regions; then the files and the JSONPaths file, as etl.py reads them.
    ``s3_only`` (default: ``with_region``): a folder is refused, as etl.py refuses it for Redshift; not
    when the engine is only guessed (the target did not answer)."""
    findings = []
    endpoint_url, region = settings.source.endpoint_url, settings.source.region
    if (with_region if s3_only is None else s3_only) and not locations.in_s3:
        return [fail(f"{printable(locations.root or locations.log_data)} is not in S3, and Redshift's COPY reads "
                     "only S3: give --source s3://bucket/prefix, or set the [S3] paths of the config")]
    if with_region and locations.in_s3:
        client, _ = s3_client(endpoint_url, region)
        urls = {part: getattr(locations, part) for part in PARTS}
        buckets = sorted({split(url)[0] for url in urls.values() if is_s3(url)})
        host = settings.target.host
        endpoint = iam_auth.parse_host(host)
        cluster_region = cluster_identity(settings, host)[1] if endpoint is None else endpoint.region
        if not settings.redshift.region and endpoint is None and not CLUSTER_ENDPOINT.match(host or ""):
            cluster_region = None  # cluster_identity() fell back to [S3] REGION, which says nothing of the cluster
        findings += [check_region(client, bucket, region, cluster_region) for bucket in buckets]
        manifest = settings.source.manifest_prefix
        problems = []
        region_of = region_finder(client, problems)
        for bucket in buckets:  # the source's regions, as check_region found them (errors already reported)
            region_of(bucket)
        problems.clear()
        findings += check_copy_regions(urls, manifest if manifest and is_s3(manifest) else None, region_of)
        findings += problems
    return findings + check_files_and_jsonpaths(locations, columns, endpoint_url, region, hints)


def source_locations(settings: Settings, source, engine, held=None):
    """What etl.py would read: --source, else the source the warehouse holds (``held``), else the bundled
    sample (PostgreSQL) or the [S3] paths."""
    where, _ = run_locations(engine, settings, source, held, required=())  # the role is checked on its own
    return where


def hints_for(source, engine, held=None):
    """{part: what to check when it holds no .json file}, naming what the person gave."""
    if source:
        return dict.fromkeys(PARTS, "check --source")
    if held:
        return dict.fromkeys(PARTS, f"check {printable(held)}, the source the warehouse holds")
    if engine.default_source:
        return dict.fromkeys(PARTS, "the bundled sample is incomplete: restore it (git checkout data/sample)")
    return {part: f"check [S3] {part.upper()} in the config" for part in PARTS}


# ---------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------


def unmade_warehouse(choice, pgdata=None) -> str | None:
    """Why there is no embedded warehouse to check yet, when the target's data folder was never made:
    doctor.py only reads, so it never starts a server that would create one."""
    if choice.kind != "embedded":
        return None
    folder = embedded.absolute(choice.pgdata or embedded.DEFAULT_PGDATA)
    if (folder / "PG_VERSION").exists():
        return None
    again = f" --pgdata {pgdata}" if pgdata else ""
    return (f"no warehouse in {folder} yet (doctor.py only reads, and makes none): "
            f"create_tables.py{again} makes one")


def diagnose(dsn=None, config_file=None, pgdata=None, engine=None, source=None) -> list[Finding]:
    try:
        settings = load_settings(config_file)
        unmade = unmade_warehouse(target_choice(settings, dsn, pgdata), pgdata)
        if unmade:
            postgres = engine_named("postgres", settings)
            return [fail(unmade, setup=True)] + source_findings(settings, source, postgres, None, None, False)
        target = choose_target(settings, dsn, pgdata)
    except TargetError as error:
        return [fail(str(error), setup=True)]
    findings = []
    if target.local and engine and engine_named(engine).copies_from_s3:
        findings.append(fail(
            "--engine redshift does not apply to the embedded PostgreSQL, which is never Redshift: the checks "
            "below are PostgreSQL's. To check a Redshift warehouse, give --dsn or set [CLUSTER] HOST"
        ))
        engine = "postgres"
    finding, connection, engine = check_target(target, engine, target_choice(settings, dsn, pgdata).named_by)
    findings.append(finding)
    columns = held = None
    if connection is not None:
        try:
            finding, columns = check_tables(connection, engine, f" --pgdata {pgdata}" if pgdata else "")
            findings.append(finding)
            with contextlib.suppress(DatabaseError):
                held = held_source(connection, engine) if not source else None
        finally:
            connection.close()
    guessed = engine is None  # the target did not answer, and no --engine said what it is
    if isinstance(engine, str) or engine is None:  # the target did not answer: as asked, else as it looks
        engine = engine_named(engine or ("postgres" if target.local else "redshift"), settings)
    if engine.copies_from_s3 and not target.local:
        host = libpq.parse_dsn(target.dsn).get("host", "")
        findings.append(check_iam_role(settings, host))
    return findings + source_findings(settings, source, engine, held, columns, engine.copies_from_s3 and not guessed)


def source_findings(settings, source, engine, held, columns, s3_only) -> list[Finding]:
    """The source's checks, read as ``engine`` would read it."""
    try:
        locations = source_locations(settings, source, engine, held)
        return check_source(settings, locations, columns, engine.copies_from_s3, hints_for(source, engine, held),
                            s3_only=s3_only)
    except TargetError as error:
        return [fail(str(error), setup=True)]
