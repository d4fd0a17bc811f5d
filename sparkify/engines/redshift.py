"""Amazon Redshift: COPY reads the source from S3 itself; everything else is the project's SQL as written.

What differs from PostgreSQL, and the page of AWS's documentation that says why:

- **Encrypted connections only.** The run refuses a connection without TLS.
- **Literals**: a backslash is an escape in a Redshift string literal
  (https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html), so
  the engine quotes every value itself (``literal()``), and logs each
  statement it runs with its duration.
- **One run at a time: ``LOCK``.** New clusters and Serverless workgroups run
  with SNAPSHOT isolation, under which two overlapping runs that insert into
  the same tables both commit. Every run takes an exclusive ``LOCK`` of
  ``staging_events`` (every run writes it) as its first statement; a second
  run waits until the first commits or rolls back
  (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
- **Who holds a lock the run waits for** (lock_wait.py says what is done
  with it): Redshift has no ``pg_blocking_pids()``, no ``waitstart``, no
  ``lock_timeout`` setting (its configuration reference lists
  ``statement_timeout`` only, which would also stop a long COPY:
  https://docs.aws.amazon.com/redshift/latest/dg/cm_chap_ConfigurationRef.html)
  and no ``NOWAIT`` for ``LOCK``. What a session waits for is its lock that
  SVV_TRANSACTIONS shows not granted
  (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TRANSACTIONS.html);
  who holds that table is read from PG_LOCKS, as AWS's own query does
  (https://repost.aws/knowledge-center/prevent-locks-blocking-queries-redshift),
  keeping the holders whose mode conflicts (that page: AccessExclusiveLock
  blocks all, ShareRowExclusiveLock blocks itself and AccessExclusiveLock,
  AccessShareLock only AccessExclusiveLock). Each holder is described from
  SYS_QUERY_HISTORY (its statements, running or done:
  https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_HISTORY.html),
  SVV_TRANSACTIONS (its user, its transaction's start) and SYS_CONNECTION_LOG
  (its application and client:
  https://docs.aws.amazon.com/redshift/latest/dg/SYS_CONNECTION_LOG.html), views
  of both deployments, not STV_LOCKS or STV_SESSIONS: the STV tables are
  "provisioned only", Serverless has none
  (https://docs.aws.amazon.com/redshift/latest/dg/c_intro_system_views.html),
  and STV_LOCKS is visible to superusers only
  (https://docs.aws.amazon.com/redshift/latest/dg/r_STV_LOCKS.html).
  A regular user sees only its own sessions there, and only a superuser
  SYS_CONNECTION_LOG: what is hidden is said to be. How long the statement
  has waited is counted from its start. Another run is a session that holds
  ``staging_events`` in AccessExclusiveLock (the run's ``LOCK``), unless its
  application, where visible, is not one of ours.
- **``DELETE``, not ``TRUNCATE``,** empties the star: TRUNCATE commits the
  transaction it runs in (https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html),
  and a failed run must leave the previous warehouse as it was.
- **Staging by ``COPY``** of a manifest that lists exactly the chosen files
  (the new ones for a daily run, every one for ``--full``), or of the whole
  prefixes when the config has no ``[S3] MANIFEST_PREFIX``. The staged
  tables are analysed inside the transaction, so that the transform is
  planned on their real sizes (``COPY ... STATUPDATE OFF`` leaves it to us).
- **Constraints are informational**
  (https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html):
  every key and relationship check counts.
- **``VACUUM DELETE ONLY`` after a full reload,** of every table it deleted
  from (staging, rejected_records, the star, loaded_files), which cannot run
  inside a transaction (https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html):
  the reload's DELETEs leave the previous rows on disk until then. "Only the
  table owner or a superuser can effectively vacuum a table": for anyone else
  it succeeds and does nothing (same page), which docs/iam-authentication.md
  says how to avoid.
- **Load errors** come from Redshift's system views (redshift_load_errors.py):
  STL_LOAD_ERRORS on a provisioned cluster, SYS_LOAD_ERROR_DETAIL on
  Serverless, which has no STL views. That is the whole difference between
  the two deployments, so Serverless is a flavour here
  (``RedshiftServerlessEngine``), chosen once when the engine is made: by the
  endpoint (``*.redshift-serverless.amazonaws.com``) or ``[DWH]
  DEPLOYMENT=serverless``.
- **query.py's read-only transactions** are ``BEGIN READ ONLY``, which Redshift
  takes (https://docs.aws.amazon.com/redshift/latest/dg/r_BEGIN.html), but it
  has no ``default_transaction_read_only`` among the settings a session may
  change (https://docs.aws.amazon.com/redshift/latest/dg/cm_chap_ConfigurationRef.html)
  and no way for the session to ask whether its transaction is still
  read-only: query.py cuts the SQL into statements, sends each alone, and
  opens a new read-only transaction whenever one ends, but an interactive psql
  session cannot be made read-only, so query.py opens one only with
  ``--write``. For a guarantee that rests on the server alone, connect
  query.py as a user that holds nothing but SELECT.
- **A streamed result** is fetched through a cursor 1,000 rows at a time, the
  most a FETCH takes on a single-node cluster
  (https://docs.aws.amazon.com/redshift/latest/dg/fetch.html). Redshift's
  cursors have limits (https://docs.aws.amazon.com/redshift/latest/dg/declare.html,
  "Cursor constraints"): one open cursor per session, so query.py CLOSEs each
  before the next statement (a rollback closes one left open); only inside a
  transaction, which query.py always opens; the whole result is materialised
  on the leader node before the first row, so the first line of a large
  result comes only once Redshift has computed all of it; and the results of
  a session's cursors may total no more than the node type allows (8,000 MB
  on a single-node cluster): a larger one fails with Redshift's own one-line
  message, and UNLOAD to S3 is the way to export it. query.py's memory stays
  flat on Redshift too: never more than one FETCH's rows at a time.
"""

import functools
import json
import time

import sql_queries as q
from sparkify.config import MAX_REDSHIFT_ERRORS, REDSHIFT_REQUIRED, Settings, TargetError
from sparkify.engines import redshift_load_errors as load_errors
from sparkify.engines.base import Engine
from sparkify.engines.errors import DatabaseError
from sparkify.engines.lock_wait import MAX_SESSIONS, LockWait, Session, first_words
from sparkify.results import LoadError, RejectedRecord, Step, TableLoad, too_many_rejected
from sparkify.sqltext import literal_text
from sparkify.value_ranges import RANGE_MEANING, TS_MAX_MS, TS_MIN_MS

LOCK = "LOCK staging_events"
PREFIX_OF = {"staging_events": "log_data", "staging_songs": "song_data"}

# --max-errors N: N bad records of a table load, N + 1 fail the run, on both
# engines. COPY's MAXERROR is one short of that: "If the load returns the
# error_count number of errors or greater, the load fails ... Set this value to
# 0 or 1 if you want the load to fail as soon as the first error occurs ... the
# limit is 100000"
# (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html#copy-maxerror).
# So COPY runs with MAXERROR N + 1, and --max-errors is at most 99,999; after
# each COPY the run counts the records it rejected and holds them against N
# itself (run_copies()), as "the actual number of errors reported might be
# greater than the specified MAXERROR".
MAX_ERRORS = MAX_REDSHIFT_ERRORS - 1


def maxerror(max_errors) -> int:
    """COPY's MAXERROR for --max-errors N: N + 1, so that exactly N bad records load."""
    return int(max_errors) + 1


# ts outside the data contract's range (sparkify/value_ranges.py).
# The local loader rejects such a record as it reads it; COPY loads any BIGINT,
# and the transform would then fail on it (EXTRACT into time_table's SMALLINTs,
# or the TIMESTAMP overflowing). So, right after the events' COPY and inside
# the run's transaction, reject_ts_out_of_range() counts the staged events outside
# the range, reads them a page at a time (as COPY's own load errors), keeps
# them in rejected_records and deletes them from staging, counting them
# against --max-errors. {table} is staging_events, or staging_events_new in a
# daily run; {limit} and {offset} say which page is read.
TS_OUT_OF_RANGE = f"ts < {TS_MIN_MS} OR ts > {TS_MAX_MS}"

staged_ts_out_of_range_count = f"""
SELECT COUNT(*) FROM {{table}} WHERE {TS_OUT_OF_RANGE}
"""

staged_ts_out_of_range_select = f"""
SELECT {", ".join(q.COLUMNS["staging_events"])}
FROM {{table}}
WHERE {TS_OUT_OF_RANGE}
ORDER BY ts, session_id, item_in_session
LIMIT {{limit}} OFFSET {{offset}}
"""

staged_ts_out_of_range_delete = f"""
DELETE FROM {{table}} WHERE {TS_OUT_OF_RANGE}
"""


# Lock waits (see the module's docstring). {pids} and {relations} are lists of integers.
LOCKS_WAITED_FOR = """
SELECT w.pid, w.relation, TRIM(c.relname), TRIM(w.lock_mode)
FROM svv_transactions w
LEFT JOIN pg_class c ON c.oid = w.relation
WHERE w.pid IN ({pids}) AND NOT w.granted AND w.relation IS NOT NULL
"""

LOCKS_ON = """
SELECT DISTINCT l.pid, l.relation, TRIM(c.relname), TRIM(l.mode), l.granted
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
WHERE l.relation IN ({relations})
"""

TRANSACTIONS = """
SELECT pid, TRIM(txn_owner), MIN(txn_start)
FROM svv_transactions
WHERE pid IN ({pids})
GROUP BY pid, txn_owner
"""

LAST_STATEMENTS = """
SELECT session_id, TRIM(status), start_time, end_time, TRIM(query_text)
FROM sys_query_history
WHERE session_id IN ({pids})
ORDER BY start_time DESC
LIMIT 100
"""

CONNECTIONS = """
SELECT session_id, TRIM(application_name), TRIM(remote_host), TRIM(user_name)
FROM sys_connection_log
WHERE session_id IN ({pids})
ORDER BY record_time DESC
"""

# The lock modes that block each mode (https://repost.aws/knowledge-center/prevent-locks-blocking-queries-redshift).
BLOCKED_BY = {
    "AccessShareLock": {"AccessExclusiveLock"},
    "ShareRowExclusiveLock": {"ShareRowExclusiveLock", "AccessExclusiveLock"},
    "AccessExclusiveLock": {"AccessShareLock", "ShareRowExclusiveLock", "AccessExclusiveLock"},
}
RUNNING = ("planning", "queued", "running", "returning")  # SYS_QUERY_HISTORY's statuses of a statement not done
OUR_APPLICATIONS = ("sparkify-etl", "sparkify-create_tables")  # the scripts that take the run's LOCK


def conflicts(wanted: str, held: str) -> bool:
    """Whether a lock held in mode ``held`` keeps one in mode ``wanted`` waiting (an unknown mode: yes)."""
    return held in BLOCKED_BY.get(wanted, {held})


def integers(values) -> str:
    return ", ".join(str(int(value)) for value in values) or "NULL"


def literal(value) -> str:
    """A Redshift string literal that holds exactly ``value``'s text.

    Redshift reads a backslash in a literal as an escape, so backslashes are
    doubled as well as quotes, as its QUOTE_LITERAL does
    (https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html): a
    config value such as ``x\\'; DROP TABLE y; --`` stays one literal. The
    driver quotes a bound value by PostgreSQL's rules, which differ: the
    Redshift engine quotes every value itself (``binds_parameters = False``).
    """
    text = literal_text(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class CopyPrefixes:
    """The source as COPY reads it for a full load: whole prefixes, never listed here."""

    listable = False

    def __init__(self, locations):
        self.locations = locations
        self.label = f"{locations.log_data} and {locations.song_data}"

    def close(self):
        pass


def deployment(settings: Settings | None, host=None) -> str:
    """"serverless" or "provisioned": the endpoint's form says, else [DWH] DEPLOYMENT."""
    from sparkify.aws.iam_auth import parse_host  # boto3 is imported only by who needs it

    settings = settings or Settings()
    endpoint = parse_host(host or settings.target.host or "")
    if endpoint is not None:
        return endpoint.kind
    return settings.redshift.deployment


class RedshiftEngine(Engine):
    name = "redshift"
    label = "Amazon Redshift"
    backslash_quotes = True  # a backslash escapes in '...' (r_QUOTE_LITERAL.html, above)
    fetch_size = 1000  # FETCH FORWARD's most on a single-node cluster (fetch.html, above)
    copies_from_s3 = True
    required_settings = REDSHIFT_REQUIRED
    binds_parameters = False
    logs_statements = True
    views = load_errors.CLUSTER  # where the load errors are (redshift_load_errors.py)
    literal = staticmethod(literal)

    @staticmethod
    def recognises(version):
        return "redshift" in version.lower()

    def __new__(cls, settings=None, workers=None, write_manifests=None, host=None):
        """The flavour the deployment calls for, chosen here once: Serverless or a provisioned cluster."""
        if cls is RedshiftEngine and deployment(settings, host) == "serverless":
            cls = RedshiftServerlessEngine
        return super().__new__(cls)

    def __init__(self, settings: Settings | None = None, workers=None, write_manifests=None, host=None):
        self.settings = settings or Settings()
        self.host = host
        self._write_manifests = write_manifests or write_manifests_to_s3
        self.describes = write_manifests is placeholder_manifests  # a dry run: Redshift answers nothing

    def check_connection(self, connection):
        if not connection.info.ssl_in_use:
            raise TargetError(
                "the connection to Redshift is not encrypted: add sslmode=verify-full to the DSN "
                "(or leave [CLUSTER] SSLMODE at its default)"
            )

    def lock(self, cursor, reporter):
        cursor.execute(LOCK)

    def lock_for_ddl(self, cursor, reporter, tables):
        """The run's LOCK, which needs staging_events: without it no run can be loading (or start to)."""
        if "staging_events" in tables:
            self.lock(cursor, reporter)

    def lock_wait(self, cursor, pid):
        """What ``pid`` waits for, and the chain of sessions that hold it up (see the module's docstring)."""
        waits = self._waits(cursor, [pid])
        if pid not in waits:
            return None
        blockers_of, chain, frontier, seen, held = {}, [], [pid], {pid}, {}
        while frontier and len(chain) < MAX_SESSIONS:  # breadth first: the blockers, then theirs
            wanted = {waits[member][0] for member in frontier if member in waits}
            cursor.execute(LOCKS_ON.format(relations=integers(wanted)))
            locks = cursor.fetchall()
            for holder, relation, name, mode, granted in locks:
                if granted:
                    held.setdefault(holder, {}).setdefault(name or str(relation), set()).add(mode)
            for member in frontier:
                if member not in waits:
                    continue
                relation, _, mode = waits[member]
                conflicting = [(holder, granted) for holder, on, _, held_mode, granted in locks
                               if on == relation and holder != member and conflicts(mode, held_mode)]
                # those holding it; else those queued for it, maybe ahead
                blockers_of[member] = tuple(dict.fromkeys(holder for holder, granted in conflicting if granted)) \
                    or tuple(dict.fromkeys(holder for holder, _ in conflicting))
            frontier = [holder for member in frontier for holder in blockers_of.get(member, ()) if holder not in seen]
            frontier = list(dict.fromkeys(frontier))[:MAX_SESSIONS - len(chain)]
            seen.update(frontier)
            chain += frontier
            waits.update(self._waits(cursor, frontier) if frontier else {})
        sessions = tuple(self._sessions(cursor, chain, waits, blockers_of, held, pid))
        blockers = blockers_of.get(pid, ())
        unknown = None if blockers else (
            "a session this user cannot see (Redshift shows a regular user its own sessions only; a superuser "
            "sees them all, see https://repost.aws/knowledge-center/prevent-locks-blocking-queries-redshift)")
        relation, name, mode = waits[pid]
        return LockWait(what=f"a lock on {name or relation} ({mode})", blockers=blockers, sessions=sessions,
                        unknown=unknown)

    @staticmethod
    def _waits(cursor, pids) -> dict:
        """pid -> (table id, table name, mode) of the lock it waits for."""
        cursor.execute(LOCKS_WAITED_FOR.format(pids=integers(pids)))
        return {pid: (relation, name, mode) for pid, relation, name, mode in cursor.fetchall()}

    def _sessions(self, cursor, chain, waits, blockers_of, held, waiter):
        """The sessions of ``chain``, described as far as this user may see them."""
        if not chain:
            return []
        pids = integers(chain)
        transactions, statements, connections = {}, {}, {}
        for query, rows in ((TRANSACTIONS, transactions), (LAST_STATEMENTS, statements), (CONNECTIONS, connections)):
            try:
                cursor.execute(query.format(pids=pids))
                for row in cursor.fetchall():
                    rows.setdefault(row[0], row[1:])  # the first: the newest statement, the latest connection
            except DatabaseError:  # a view this user may not read: what it shows stays unknown
                pass
        sessions = []
        for member in chain:
            owner, started = transactions.get(member, (None, None))
            status, begun, ended, text = statements.get(member, (None, None, None, None))
            application, client, user = connections.get(member, (None, None, None))
            wanted = {waits[other][1] or str(waits[other][0]) for other, blockers in blockers_of.items()
                      if member in blockers and other in waits}
            modes = held.get(member, {})
            holds = ", ".join(f"{max(modes[name], key=_strength)} on {name}" for name in sorted(wanted & set(modes)))
            if member in waits:
                relation, name, mode = waits[member]
                state, since = f"waiting for a lock on {name or relation} ({mode})", begun
            elif status in RUNNING:
                state, since = "active", begun
            elif member in transactions:
                state, since = "idle in transaction", ended or started
            else:
                state, since = ("idle", ended) if status else (None, None)
            visible = member in transactions or member in statements
            runs_lock = "AccessExclusiveLock" in modes.get("staging_events", ())
            sessions.append(Session(
                pid=member, application=application or None, user=owner or user or None, client=client or None,
                state=state, since=since, holds=holds or None, statement=first_words(text),
                waits_for=blockers_of.get(member, ()) if member in waits else (),
                is_run=runs_lock and (application is None or application in OUR_APPLICATIONS),
                hidden=None if visible else "its details are visible to a superuser only",
            ))
        return sessions

    def open_source(self, locations, full, dated):
        """The listed S3 root, copied through manifests, when the config has [S3] MANIFEST_PREFIX: a daily
        run copies the new files, --full every file, and the ledger records each. Without it, the whole
        prefixes: the ledger then records the source, not its files, and only --full may reload a loaded
        warehouse (ledger.whole_prefixes)."""
        if not locations.in_s3:
            raise TargetError(
                f"{locations.root} is not in S3: a Redshift target reads the source with COPY from S3; "
                "give --source s3://bucket/prefix, or set the [S3] paths of the config"
            )
        self.settings.require(REDSHIFT_REQUIRED)  # every missing setting, named before anything runs
        if self.settings.source.manifest_prefix is None:
            if dated:
                raise TargetError("--since and --until need [S3] MANIFEST_PREFIX on Redshift: a daily run lists "
                                  "the chosen files in a manifest there (see dwh.cfg.example)")
            return CopyPrefixes(locations), None if full else (
                "The config has no [S3] MANIFEST_PREFIX: the whole prefixes are copied, as with --full. "
                "Set it for daily runs that copy only the new files."
            )
        if locations.root is None:
            if full:
                return CopyPrefixes(locations), None
            raise TargetError(
                f"[S3] LOG_DATA and SONG_DATA are not log_data/ and song_data/ of one folder "
                f"({locations.log_data}, {locations.song_data}): a daily run lists one source; "
                "give --source s3://bucket/prefix, or run etl.py --full"
            )
        from sparkify.sources.s3 import S3Source  # only a run through manifests lists S3 from here

        s3 = self.settings.source
        source = S3Source(locations.root, endpoint_url=s3.endpoint_url, region=s3.region)
        source.locations = locations
        return source, None

    def copy_values(self, source, max_errors) -> dict:
        """The values the COPY statements hold, each a quoted literal, so that a quote or a
        semicolon in the config or the command line cannot change a statement."""
        if not 0 <= int(max_errors) <= MAX_ERRORS:
            raise TargetError(f"--max-errors must be between 0 and {MAX_ERRORS:,} on Redshift: --max-errors N "
                              f"runs COPY with MAXERROR N+1, and COPY accepts at most {MAX_REDSHIFT_ERRORS:,}")
        locations, region = source.locations, self.settings.source.region
        return {
            "log_data": self.literal(locations.log_data),
            "song_data": self.literal(locations.song_data),
            "log_jsonpath": self.literal(locations.log_jsonpath),
            # no REGION clause without [S3] REGION: COPY then reads everything in the cluster's region
            "region": f"REGION {self.literal(region)}\n" if region else "",
            "iam_role": self.literal(self.settings.redshift.iam_role),
            "max_errors": maxerror(max_errors),
        }

    def copies(self, source, mode, max_errors) -> list[tuple[str, str, str]]:
        """(staging table, COPY statement, what it reads) for each table to stage."""
        values = self.copy_values(source, max_errors)
        if mode.files is None:
            statements = [statement.format(**values) for statement in q.copy_table_queries]
            return list(zip(q.staging_tables, statements, [source.locations.log_data, source.locations.song_data]))
        manifests = self._write_manifests(source, self.settings.source.manifest_prefix, mode.files)
        formats = {"staging_events": values["log_jsonpath"], "staging_songs": "'auto'"}
        return [
            (table, q.staging_copy_manifest.format(
                table=mode.staging_targets.get(table, table), manifest=self.literal(url), format=formats[table],
                **values), url)
            for table, url in manifests.items()
        ]

    def load(self, cursor, source, mode, max_errors, reporter):
        copies = self.copies(source, mode, max_errors)
        if self.describes:
            cursor.execute(describe_max_errors(max_errors))
        keep = functools.partial(self.keep_rejected, cursor)
        loads = run_copies(cursor, copies, max_errors, empty_is_error=mode.files is None and not mode.allow_empty,
                           views=self.views, files=files_read(source, mode), known=not self.describes, keep=keep)
        for load in loads:
            load.files = len(mode.files[PREFIX_OF[load.table]]) if mode.files is not None else 0
            if load.table == "staging_events":
                reject_ts_out_of_range(cursor, load, mode.staging_targets.get(load.table, load.table), max_errors,
                                       where_staged(source, mode, load.table), keep)
        return loads

    def keep_rejected(self, cursor, rejected):
        cursor.execute(*load_errors.insert_rejected(rejected))

    def clear_star(self):
        return list(q.clear_star_queries)

    def after_commit(self, connection, mode, reporter):
        """Reclaim the rows a full reload deleted: VACUUM cannot run in a transaction.

        The load is committed by then: a VACUUM that fails (another VACUUM
        running, a user without the right) is a warning, never a failed run.
        """
        if not mode.full:
            return []
        started = time.perf_counter()
        connection.autocommit = True
        try:
            with self.cursor_on(connection, reporter) as cursor:
                for table in q.all_tables:  # every table the reload deleted from, the ledger and rejects too
                    cursor.execute(f"VACUUM DELETE ONLY {table}")
        except DatabaseError as error:
            reporter.always(f"warning: the load is committed, but VACUUM DELETE ONLY failed "
                            f"({' '.join(str(error).split())}): Redshift's automatic vacuum reclaims the space later")
        finally:
            connection.autocommit = False
        return [Step(None, "vacuum (deleted rows reclaimed)", None, time.perf_counter() - started)]

    def dry_run(self):
        return type(self)(self.settings, write_manifests=placeholder_manifests, host=self.host)


class RedshiftServerlessEngine(RedshiftEngine):
    """A Redshift Serverless workgroup: the same SQL; its load errors are in the SYS views."""

    label = "Amazon Redshift Serverless"
    views = load_errors.SERVERLESS


def _strength(mode: str) -> int:
    order = ["AccessShareLock", "ShareRowExclusiveLock", "AccessExclusiveLock"]
    return order.index(mode) if mode in order else len(order)


def where_staged(source, mode, table) -> str:
    """What a rejected record found in staging can say of its file: staging keeps no file name."""
    files = files_read(source, mode).get(table)
    if files and len(files) == 1:
        return files[0]
    where = source.locations.log_data if mode.files is None else "the files of this run's manifest"
    return f"(staged by COPY from {where}: the file is not known)"


def reject_ts_out_of_range(cursor, load, staged, max_errors, source_file, keep=None):
    """Move the staged events whose ts is outside the contract's range into the load's rejected records.

    COPY takes any BIGINT; the local loader rejects a ts outside
    value_ranges.py's range, and so does this, inside the run's transaction,
    with the same reason and against the same --max-errors (TS_OUT_OF_RANGE
    says why). Staging keeps no file or line: the record names what it can
    (line 0: not known). All of them are counted and deleted; they are read a
    page of load_errors.KEPT at a time: the run keeps up to KEPT records in
    all, ``keep(page)`` is given the others, for rejected_records.
    """
    cursor.execute(staged_ts_out_of_range_count.format(table=staged))
    count = (cursor.fetchone() or (0,))[0] or 0
    if not count:
        return
    rejected = load.rejected_count + count
    offset = 0
    while offset < count:
        cursor.execute(staged_ts_out_of_range_select.format(table=staged, limit=load_errors.KEPT, offset=offset))
        page = [
            RejectedRecord(
                table_name=load.table, source_file=source_file, line_number=0, column_name="ts",
                reason=f"{row['ts']} is out of range: {RANGE_MEANING['ts']}", raw_value=str(row["ts"]),
                raw_record=json.dumps(row, ensure_ascii=False, default=str),
            )
            for row in (dict(zip(q.COLUMNS["staging_events"], values)) for values in cursor.fetchall())
        ]
        if rejected > max_errors:
            raise LoadError(too_many_rejected(load.table, page, rejected, max_errors, unknown="ts out of range"),
                            load.rejected + page, rejected)
        room = max(load_errors.KEPT - len(load.rejected), 0)
        load.rejected.extend(page[:room])
        if page[room:] and keep is not None:
            keep(page[room:])
        if len(page) < load_errors.KEPT:
            break
        offset += load_errors.KEPT
    cursor.execute(staged_ts_out_of_range_delete.format(table=staged))
    load.rejected_count = rejected
    load.rejected_by_file[source_file] = load.rejected_by_file.get(source_file, 0) + count
    if load.rows is not None:
        load.rows -= count


def describe_max_errors(max_errors) -> str:
    """A dry run's word on --max-errors: the MAXERROR that makes it mean what it means on PostgreSQL."""
    n = int(max_errors)
    records = "rejected record" if maxerror(n) == 1 else "rejected records"
    return (f"-- --max-errors {n}: each COPY runs with MAXERROR {maxerror(n)}, as COPY fails at {maxerror(n)} "
            f"{records} or more:\n-- {n} bad record(s) of a table load, {n + 1} fail the run. After each "
            "COPY the run counts the records\n-- it rejected in its load-error view, holds them against "
            "--max-errors and keeps them in rejected_records")


def files_read(source, mode) -> dict[str, list[str]]:
    """staging table -> the URLs its COPY reads, as the manifest lists them; {} for whole prefixes."""
    bucket = getattr(source, "bucket", None)
    if mode.files is None or bucket is None:
        return {}
    return {table: [f"s3://{bucket}/{source.key(item.name)}" for item in mode.files.get(prefix, [])]
            for table, prefix in PREFIX_OF.items()}


def run_copies(cursor, copies, max_errors, empty_is_error=True, views=load_errors.CLUSTER,
               files=None, known=True, keep=None) -> list[TableLoad]:
    """Run each (table, COPY, where) and say what it loaded and rejected.

    After each COPY, Redshift says how many rows it loaded and which records
    it rejected, in views that other sessions write too: every lookup is
    bounded by this run (redshift_load_errors.py says how). A COPY of whole
    prefixes that loads no row is an error: the prefix is wrong, or its files
    hold nothing. ``files``: staging table -> the URLs its COPY reads, when
    known, to name the files of the load errors in full. ``known``: False in
    a dry run, where Redshift answers nothing. ``keep(records)``: where the
    rejected records beyond the first load_errors.KEPT go (rejected_records).
    """
    loads, files = [], files or {}
    cursor.execute(views.before_run)
    last_copy = (cursor.fetchone() or (-1,))[0]  # this run's COPYs, and only they, come after it
    for table_name, statement, where in copies:
        target = statement.split()[1]  # COPY <table>: staging_events, or staging_events_new in a daily run
        started = time.perf_counter()
        try:
            cursor.execute(statement)
        except DatabaseError as error:
            raise load_errors.copy_failed(cursor, table_name, error, last_copy, max_errors, views,
                                          files.get(table_name)) from None
        cursor.execute(views.copy_result(target, last_copy))
        row = cursor.fetchone()
        if known and (row is None or row[0] is None or row[0] <= last_copy):
            raise LoadError(
                f"{table_name}: the COPY into {target} succeeded, but {views.recorded_in} does not show it: how "
                "many rows it loaded and which records it rejected cannot be told, so the run stops rather than "
                "guess (nothing is committed). Run it again; if this persists, report it with this message."
            )
        which = views.this_copy(target, last_copy)
        query, rows = row if row is not None else (last_copy, None)
        last_copy = query
        counts = load_errors.count_errors(cursor, which, views, files.get(table_name))
        count = sum(counts.values())
        skipped = load_errors.read_errors(cursor, table_name, which, views, files.get(table_name), count, keep) \
            if count else []
        if count > max_errors:  # COPY went on past MAXERROR N+1: the run holds the line itself
            raise LoadError(load_errors.failure_message(table_name, None, skipped, max_errors, views, query, count),
                            skipped, count)
        if rows == 0 and empty_is_error:
            raise LoadError(
                f"{table_name}: COPY loaded no rows from {where}: no record there, "
                "check the path in the config (or --source) and that its files are not empty",
                skipped, count,
            )
        loads.append(TableLoad(table=table_name, rows=rows, rejected=skipped, seconds=time.perf_counter() - started,
                               rejected_count=count, rejected_by_file=counts))
    return loads


def write_manifests_to_s3(source, prefix, files, now=None) -> dict[str, str]:
    """Write one manifest per staging table with files to stage below ``prefix``; table -> its URL."""
    from sparkify.run.ledger import write_manifests

    return write_manifests(source, prefix, files, now)


def placeholder_manifests(source, prefix, files) -> dict[str, str]:
    """A dry run's manifests: named as a run names them, written nowhere."""
    folder = prefix.rstrip("/")
    return {table: f"{folder}/<run time>-{table}.manifest" for table in q.staging_tables}
