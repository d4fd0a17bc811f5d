"""What a person sees when things go wrong: one row per case, held to the truth by the tests.

Each test that tries a case asserts that the real exit code and output match
its row here, and docs/failures.md (the README's "What happens when things go
wrong" table) is rendered from these rows: test_config_secrets.py checks that
the file is current. So the table cannot promise a message the code no longer
prints.

Regenerate the file after changing a row:

    python tests/failure_cases.py > docs/failures.md
"""

from dataclasses import dataclass

EVENTS_FILE = "log_data/2018/11/2018-11-01-events.json"
SONG_FILE = "song_data/A/B/C/TRABC0000000000001.json"
HELD_UP = ("another session idle in its open transaction (a notebook, a BI tool, a client of `query.py --serve`) "
           "holds a table the command needs")


@dataclass(frozen=True)
class Failure:
    case: str
    exit_code: int  # with the default --max-errors 0
    message: str  # a fragment of what is printed (stderr for errors, stdout for the summary)
    note: str = ""  # what --max-errors N changes, or what else to know


FAILURES = {
    failure.case: failure
    for failure in [
        # --- bad input: records (events and songs alike) ---
        Failure("malformed JSON: cut mid-object", 1, f"{EVENTS_FILE}:2: invalid JSON",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("malformed JSON: trailing comma", 1,
                f"{EVENTS_FILE}:2: invalid JSON: Expecting property name enclosed in double quotes",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("malformed JSON: a stray line of text", 1, f"{EVENTS_FILE}:2: invalid JSON: Expecting value (column 1)",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("wrong type: \"sessionId\": \"abc\"", 1,
                f"{EVENTS_FILE}:2, column session_id: session_id 'abc' is not an integer",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("wrong type: a string duration", 1,
                f"{SONG_FILE}:1, column duration: duration 'long' is not a number",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("missing key `ts` (NOT NULL)", 1,
                f"{EVENTS_FILE}:2, column ts: ts has no value, and the column is NOT NULL",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("missing optional key", 0, "All 14 checks passed", "the value is NULL, as COPY loads it"),
        Failure("extra keys", 0, "All 14 checks passed", "ignored, as COPY ignores them"),
        Failure("a string longer than its column", 1,
                f"{EVENTS_FILE}:2, column song: song is 2000 bytes long, more than the column's 1024",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("a `ts` the transform cannot hold (outside years 1 to 9999)", 1,
                f"{EVENTS_FILE}:2, column ts: ts 1000000000000000 is out of range: epoch milliseconds from "
                "-62135596800000 to 253402300799999, a time from 0001-01-01 to 9999-12-31 UTC",
                "as Redshift's transform would fail on it; with `--max-errors N`: the rest loaded, the record "
                "kept in `rejected_records`"),
        Failure("a value of 1,100 characters in a number column", 1,
                f"{EVENTS_FILE}:2, column session_id: session_id 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'… "
                "(1,100 characters) is not an integer",
                "the message quotes 40 characters; with `--max-errors N`: the record kept in `rejected_records`, "
                "its texts cut to the columns' bytes (ending in …)"),
        Failure("a string of 5,000 digits in a number column", 1,
                f"{EVENTS_FILE}:2, column session_id: session_id '9999999999999999999999999999999999999999'… "
                "(5,000 characters) is out of range: the column is INTEGER, from -2147483648 to 2147483647",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("control characters or ESC sequences in a bad value", 1,
                f"{EVENTS_FILE}:2, column session_id: session_id '\\x1b[2J\\rAll 14 checks passed' is not an integer",
                "source text in any message is escaped (\\x1b, \\r, \\n): it cannot clear the screen or fake a line"),
        Failure("a JSON object larger than the 4 MB record limit", 1,
                f"{EVENTS_FILE}:2: the record is larger than the limit of 4,194,304 bytes for one JSON object",
                "one rejected record however long, and the lines after it keep their numbers"),
        Failure("many JSON objects on one line", 0, "All 14 checks passed",
                "each object is one record, held to the 4 MB limit on its own, however long the line"),
        Failure("one JSON object broken across two lines", 1, f"{EVENTS_FILE}:2: invalid JSON",
                "one rejected record, at the line where it starts: the text after the break belongs to it, "
                "up to where its braces close (or the next line that begins with `{`)"),
        Failure("bytes that are not UTF-8", 1, f"{EVENTS_FILE}:2: not valid UTF-8 (byte 13 of the line)",
                "with `--max-errors N`: the rest loaded, the record kept in `rejected_records`"),
        Failure("a UTF-8 byte-order mark", 0, "All 14 checks passed", "skipped (RFC 8259 allows it)"),
        Failure("an empty file", 0, "All 14 checks passed", "nothing to load from it"),
        Failure("a number in a text column (1.10, 1e400, 2^64)", 0, "All 14 checks passed",
                "stored as written: \"1.10\", \"1e400\", \"18446744073709551616\""),
        Failure("files named `*.JSON` (any case)", 0, "All 14 checks passed",
                "loaded: COPY reads every object under the prefix, so the loader takes .json in any case"),
        Failure("a file name that is not UTF-8", 0, "All 14 checks passed",
                "loaded; its bytes that are not UTF-8 are stored and shown as `\\xNN`"),
        Failure("more rejected records than --max-errors N", 1,
                "The load stopped: 3 rejected record(s), more than --max-errors 2",
                "N load, the (N+1)th fails, on both engines (`MAXERROR N+1` on Redshift)"),
        # --- bad input: the source ---
        Failure("an empty source folder", 1, "holds no log_data/**.json and no song_data/**.json: "
                "is it the right source?"),
        Failure("a full load that finds no log or song records", 1,
                "is it the right source? (etl.py --allow-empty loads it anyway)",
                "log_data/ or song_data/ missing or empty, or its files empty: on --full and on the first run "
                "of a source, on both engines; a daily run with nothing new still exits 0"),
        Failure("missing `log_json_path.json`", 1,
                "log_json_path.json not found: the source must hold log_json_path.json next to log_data/"),
        Failure("malformed `log_json_path.json`", 1, "log_json_path.json line 3: not valid JSON"),
        Failure("`log_json_path.json` is a directory", 1, "log_json_path.json is a directory: it must be a file"),
        Failure("`log_json_path.json` is a FIFO, a device or over 4 MB", 1,
                "log_json_path.json is a FIFO (a named pipe): it must be a file",
                "never read, so never a hang or an endless read: a symlink to `/dev/zero` is \"a device\", a file "
                "over 4 MB (the largest JSON object `COPY` reads) is refused before it is read; `doctor.py` says the "
                "same"),
        Failure("a source file that cannot be read (permissions, a failing disk)", 1,
                "Input/output error: the disk or network file system holding it failed",
                "the line names the file; a permission problem says to check its permissions"),
        Failure("`--source` naming a file, not a folder", 1,
                "is a file, not a folder: give the folder that holds log_data/, song_data/ and log_json_path.json",
                "a FIFO, a device or a dangling symlink is named the same way; `doctor.py` says the same"),
        Failure("a file path over 1,024 bytes", 1, "the file's name is longer than 1024 bytes",
                "found before anything is loaded: the ledger and `rejected_records` hold 1,024 bytes a name"),
        Failure("a symlink loop, a dangling symlink or a FIFO in the source", 0, "All 14 checks passed",
                "listed once, never read, never a hang: each is named in a `warning:` line of the summary "
                "(on stderr with `--quiet`)"),
        Failure("a JSONPaths typo: a column NULL in every staged row", 0,
                "warning: staging_events: column artist is NULL in every one of the 3 staged rows",
                "loaded, as COPY would load it, but never silently (on stderr with `--quiet`)"),
        Failure("a loaded file deleted from the source", 0,
                "warning: 1 file in the ledger is no longer in the source (log_data/2018/11/2018-11-02-events.json): "
                "a daily run keeps the rows it staged; etl.py --full drops them",
                "a daily run never deletes rows; `etl.py --full` rebuilds from the source as it is now, and its "
                "warning names the files whose rows it dropped"),
        Failure("JSONPaths path count differs from the table's columns", 1,
                "log_json_path.json has 17 paths but staging_events has 18 columns: "
                "they must match one to one, in order"),
        Failure("a re-delivered file", 0, "duplicate events staged and counted once: 3",
                "staged twice (as COPY would), counted once in the star schema"),
        Failure("a very large file", 0, "All 14 checks passed", "streamed in blocks: memory stays bounded"),
        # --- commands that would remove what they do not name (docs/daily-loads.md#what-each-command-may-remove) ---
        Failure("another source than the one the warehouse holds (a mistyped `--source`, a moved folder)", 2,
                "loading it would replace every row loaded before. To replace them: etl.py --source ",
                "refused, one line, nothing committed; `--replace-source` switches and reloads everything from "
                "the new source. Without `--source` a run continues the source the warehouse holds"),
        Failure("rows that no ledger accounts for (`loaded_files` emptied by hand)", 2,
                "the warehouse holds rows that its ledger (loaded_files) records no source for",
                "refused: the default source never replaces them; `--source ... --replace-source` does"),
        Failure("a changed file, and files gone from the source: a reload would drop their rows", 2,
                "and drop the rows of 29 files in the ledger that the source no longer has",
                "refused; `--full` reloads the source as it is now, dropping them with a warning that names them "
                "(on stderr with `--quiet`, and in `--json`'s `warnings`)"),
        Failure("a changed file that is smaller than when it was loaded", 2,
                "is smaller than when it was loaded",
                "refused: a reload nobody asked for never drops rows; `--full` reloads it"),
        Failure("`--full` with `--since` or `--until`", 2,
                "--full reloads every file of the source, and --since/--until choose the log files of a daily run",
                "refused on both engines before anything connects: a window never shrinks the warehouse to itself"),
        Failure("Redshift without `[S3] MANIFEST_PREFIX`, a loaded warehouse, no `--full`", 2,
                "refused: the config has no [S3] MANIFEST_PREFIX, so this run could only copy the whole prefixes",
                "copying the prefixes again would drop the rows of files deleted since; `--full` does it"),
        Failure("`create_tables.py` on tables that hold rows, off a terminal", 2,
                "create_tables.py drops them only with --drop-data",
                "refused, nothing changed; on a terminal it asks, and only `y` drops them"),
        Failure("`cluster.py delete` off a terminal, without `--yes`", 2,
                "needs a y on a terminal, or --yes; nothing was deleted", "on a terminal it asks"),
        # --- faults ---
        Failure("the database connection dies mid-run", 2, "error: the database connection was lost",
                "mid-COPY or mid-transform: the transaction dies with the connection; rerun"),
        Failure("Ctrl-C (SIGINT) during the load", 130,
                "interrupted: nothing was committed, the previous warehouse is unchanged.",
                "at once, even in the middle of a statement: it is cancelled on the server"),
        Failure("SIGTERM or SIGHUP during the load (timeout, systemd, Docker, a closed terminal)", 143,
                "terminated (SIGTERM): nothing was committed, the previous warehouse is unchanged.",
                "as Ctrl-C: the statement is cancelled, the loader's worker processes and fork server end with "
                "the run (`etl.py | cat` ends); SIGHUP exits 129"),
        Failure("two etl.py runs at once on one database", 0,
                "Another etl.py run is loading this database: waiting for it to finish...",
                "the second waits for the first to commit (an advisory lock): they never interleave; after 5 s it "
                "names the other run's pid, and waits without a limit unless `--lock-timeout` (or "
                "`DWH_LOCK_TIMEOUT`, `[RUN] LOCK_TIMEOUT`) sets one"),
        Failure(HELD_UP, 1,
                "for a lock on songplay_table (AccessExclusiveLock), held by pid",
                "`etl.py`, `create_tables.py`, `query.py`: after 5 s of waiting, lines name each session that "
                "holds it up (pid, application, user, client, state and since when, the first words of its last "
                "statement), again every minute; at the lock timeout (600 s; `--lock-timeout SECONDS`, "
                "`DWH_LOCK_TIMEOUT` or `[RUN] LOCK_TIMEOUT`; 0: no limit) the command cancels its own statement "
                "and commits nothing. The other session is never signalled: end it yourself if it is yours "
                "(`SELECT pg_terminate_backend(pid)`)"),
        Failure("the embedded PostgreSQL was killed hard", 0, "All 14 checks passed",
                "the next run starts it again by itself, stale `postmaster.pid` and all"),
        Failure("the embedded PostgreSQL killed during a load", 2, "the database connection was lost",
                "the next run starts it again, with one `note:` line"),
        Failure("a stale or garbage `postmaster.pid`", 0, "was not shut down cleanly",
                "one `note:` line, then the server starts: only a process that /proc shows to be the data "
                "folder's own server is ever signalled, whatever pid the file names"),
        Failure("`--pgdata` naming a file, or a folder the embedded server did not make", 2,
                "is not empty and is not a data folder of the embedded PostgreSQL",
                "nothing is touched: `--pgdata` takes a path that does not exist yet (it is made, mode 0700) or "
                "the data folder of an earlier run; an empty folder only if it is already private (mode 0700)"),
        Failure("a read-only data folder", 2, "is read-only (mode 0500)",
                "or `is on a read-only file system`"),
        Failure("a full disk while the data folder is made", 2, "initdb could not make the data folder",
                "with the reason (`No space left on device`); the folder it made is removed again"),
        Failure("root where user namespaces are refused", 2, "set DWH_EMBEDDED_USER to an existing user",
                "a container's default seccomp profile, say: run as another user, or name one for the server "
                "([design](design.md#the-embedded-server))"),
        Failure("the database cannot be reached at start", 2, "after 3 attempts",
                "retried 1 s, then 2 s later; a refused login is not retried"),
        # --- configuration and secrets ---
        Failure("a missing config file (`--config`)", 2,
                "not found: copy dwh.cfg.example to"),
        Failure("a missing section", 2, "the config has no [S3] LOG_DATA, [S3] SONG_DATA, [S3] LOG_JSONPATH",
                "a run on Redshift; `etl.py --dry-run` shows `'<[S3] LOG_DATA>'` in its place, and says so"),
        Failure("a missing key", 2, "[CLUSTER] DB_NAME is missing: set it (see dwh.cfg.example)"),
        Failure("no password in the config or the environment", 2,
                "[CLUSTER] DB_PASSWORD is missing: export DWH_DB_PASSWORD=..."),
        Failure("a wrong type (port \"abc\")", 2,
                "[CLUSTER] DB_PORT must be a port number (1 to 65535), not 'abc' (see dwh.cfg.example)"),
        Failure("a config file that is not KEY=value", 2,
                "line 1 comes before any [SECTION] header: compare it with dwh.cfg.example"),
        Failure("a DSN that cannot be parsed", 2, "the DSN (--dsn or DWH_DSN) cannot be parsed"),
        Failure("a config file of random bytes", 2, "is not UTF-8 text: compare it with dwh.cfg.example",
                "one line naming the byte, never a traceback"),
        Failure("`--config` naming a directory", 2,
                "is not a file: give the path of a copy of dwh.cfg.example",
                "never a silent fall-back to the embedded PostgreSQL"),
        Failure("`DWH_CONFIG` naming a file that is not there", 2, "($DWH_CONFIG) not found: copy dwh.cfg.example",
                "a config named by `--config` or `DWH_CONFIG` is read or is an error, never replaced by `dwh.cfg`; "
                "the flag wins over the variable"),
        Failure("a value of the wrong form, several at once", 2,
                "[S3] ENDPOINT_URL must be an http:// or https:// URL (e.g. http://127.0.0.1:9000), not 'minio:9000'",
                "one line naming every such key and the form it needs (ports, yes/no, numbers, ARNs, regions, "
                "`s3://` paths, URLs), never a library's traceback, never a secret"),
        Failure("`--dsn` and `--pgdata` together", 2, "--dsn and --pgdata name two targets",
                "a flag wins over `DWH_DSN`, which wins over `[CLUSTER] HOST`; two flags naming two targets are "
                "refused"),
        Failure("a config file that starts with a UTF-8 byte-order mark", 0, "",
                "read as if it had none (Windows editors write one)"),
        Failure("`dwh.cfg` with a secret, readable by other users", 0,
                "holds a password or an AWS key and other users can read it",
                "a warning on stderr, with the `chmod 600` to run; the run goes on"),
        Failure("any output, error or `--dry-run`", 0, "password ***",
                "passwords and AWS keys are never printed; DSNs are shown redacted"),
        Failure("credentials in a source location (`s3://KEY:SECRET@bucket`)", 2,
                "holds credentials before the bucket name",
                "in `--source`, an `[S3]` key, `ENDPOINT_URL` or `AWS_ENDPOINT_URL`: refused before anything "
                "prints, logs or sends it, with everything before the bucket name hidden; give AWS credentials "
                "with `aws configure` or `AWS_PROFILE`"),
    ]
}


def render() -> str:
    """docs/failures.md: the README section's table, from the rows above."""
    lines = [
        "## Exit statuses",
        "",
        "Every script (`etl.py`, `create_tables.py`, `query.py`, `doctor.py`, `cluster.py`)",
        "ends with one of these, and says what stopped it in one line on standard error",
        "(a load stopped by a rejected record adds an excerpt of the record; a command refused",
        "because it would remove loaded data it does not name says so in a line that starts",
        "with `refused:`); only a bug prints a traceback.",
        "",
        "| status | meaning |",
        "| --- | --- |",
        "| 0 | done (`etl.py`: loaded, or nothing new; `doctor.py`: no check failed) |",
        "| 1 | the work failed: bad input, a failed check, a statement the database refused; "
        "nothing was committed |",
        "| 2 | the configuration, or reaching the database, S3 or the AWS APIs (also when the connection "
        "is lost during a run), or a refusal: the command would remove loaded data it does not name "
        "([what each command may remove](daily-loads.md#what-each-command-may-remove)); nothing was committed |",
        "| 3 | done (`etl.py`: committed, or nothing new), but its standard output, its standard error or its "
        "`--json` file could not be written (a closed pipe, as in `etl.py \\| head -1`, a full disk): the work "
        "is never abandoned for its output; a line on standard error says what was lost, where it still "
        "can. `query.py`, whose output is its work, stops reading the result there and commits nothing (with "
        "`--write` too) |",
        "| 130 | Ctrl-C (SIGINT): the running statement is cancelled, nothing was committed |",
        "| 143, 129 | SIGTERM, SIGHUP (128 + the signal's number): as Ctrl-C |",
        "",
        "The embedded PostgreSQL is let go of on every one of them, as on a normal exit: it stops",
        "when the last script using it ends.",
        "",
        "## What happens when things go wrong",
        "",
        "Every case below is tried for real by the tests (`tests/test_bad_input.py`,",
        "`tests/test_hostile_paths.py`, `tests/test_faults.py`, `tests/test_config_secrets.py`,",
        "`tests/test_settings.py`, `tests/test_source_credentials.py`, `tests/test_intent.py`,",
        "`tests/test_incremental_redshift.py`, `tests/test_cluster.py`, `tests/test_lock_waits.py`), which",
        "check the exit code and the message shown here. Whenever a run fails, nothing is committed:",
        "the previous warehouse is unchanged, and a rerun after fixing the cause succeeds.",
        "",
        "| case | exit code | what you see (an excerpt) | notes |",
        "| --- | --- | --- | --- |",
    ]
    for failure in FAILURES.values():
        message = failure.message.replace("|", "\\|")
        lines.append(f"| {failure.case} | {failure.exit_code} | `{message}` | {failure.note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
