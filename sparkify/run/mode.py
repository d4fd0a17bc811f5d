"""The two ways a run changes the warehouse, chosen once per run: a full load, or a daily one.

A ``FullLoad`` empties staging, stages everything, and rebuilds the star; its
checks count the whole warehouse. A ``DailyLoad`` stages only the new files,
into temporary tables, appends them to staging and updates the star from
them; its checks count the change (docs/daily-loads.md). Each supplies the
run's staging targets, transform steps, ledger statements and checks; the
engine supplies what differs by database.
"""

import time

import sql_queries as q
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.checks.reconciliation import before_change, change_checks, run_checks
from sparkify.output.printable import printable
from sparkify.results import Figures, LoadError, Step
from sparkify.run import daily_load_sql as daily_sql
from sparkify.run.ledger import PREFIX_OF, ledger_rows, ledger_setup

WORK_TABLES = {"staging_events": "staging_events_new", "staging_songs": "staging_songs_new"}

# The planner's statistics for the staging columns that the transform filters,
# joins and groups on: ANALYZE of all eighteen of staging_events, its long
# text columns included, took half as long again.
# songplay_table's unique key, as its CREATE TABLE writes it: where the engine builds it over the rows a
# full load wrote, it says whether an event was staged twice (FullLoad.transform).
PLAYS_KEY = ("songplay_table", "UNIQUE (session_id, item_in_session, start_time)")

ANALYZED_COLUMNS = {"staging_events": " (page, ts, session_id, item_in_session, user_id, song, artist, length)"}


class FullLoad:
    name = "full"
    full = True
    staging_targets = {}
    checks_on_change = 0  # how many of its checks are of the run's change, not of the whole warehouse
    checks_seconds = 0.0  # time its checks took before the transform

    def __init__(self, choice, allow_empty=False):
        self.choice = choice
        self.allow_empty = allow_empty  # --allow-empty: a full load may stage no record for a table
        self.written = {}  # star table -> rows its INSERT wrote (transform)
        self.staged_plays = self.nextsong_events = None  # distinct staged NextSong events, and all of them

    @property
    def reason(self):
        return self.choice.reason

    @property
    def files(self):
        """prefix -> the files to stage; None: COPY reads the whole prefixes."""
        return self.choice.files

    def staging_setup(self) -> list[str]:
        return list(q.clear_staging_queries)

    def analyze_statements(self, loads) -> list[str]:
        return [f"ANALYZE {load.table}" + ANALYZED_COLUMNS.get(load.table, "") for load in loads]

    def check_staged(self, loads, source_label) -> None:
        """LoadError when a staging table got no record: the reload would empty the star's tables built
        from it (a source without its log_data/, say), unless --allow-empty asked for it."""
        if self.allow_empty:
            return
        staged = {}
        for load in loads:
            if load.rows is None:  # a dry run: nothing is known
                return
            staged[load.table] = staged.get(load.table, 0) + load.rows
        for table in q.staging_tables:
            if staged.get(table, 0) == 0:
                raise LoadError(nothing_staged(table, source_label, [load for load in loads if load.table == table],
                                               listed=self.files is not None))

    def transform(self, cursor, engine, reporter) -> list[Step]:
        """Empty the star and rebuild it from staging, the dimensions first.

        The fact's INSERT needs to know whether an event was staged twice:
        only then must it rank the copies. Where the engine builds
        songplay_table's unique key (session_id, item_in_session, start_time)
        over the rows written, and no NextSong event has a NULL in that
        identity (which the key would not compare), the key answers: the
        plays are inserted as they are and the key built at once; it holds
        when no event was staged twice, and then the distinct events are all
        of them. When it breaks, the INSERT is undone and done again, ranked.
        Elsewhere the distinct events are counted first, as the check counts
        them.
        """
        for statement in engine.clear_star() + engine.transform_settings():
            cursor.execute(statement)
        started = time.perf_counter()
        self.nextsong_events, keyless = fetch(cursor, check_sql.count_nextsong_events)
        self.checks_seconds = time.perf_counter() - started
        steps = []
        with engine.bulk_insert(cursor, q.star_tables, steps) as keys:
            answered_by_key = keyless == 0 and keys.rebuilds(*PLAYS_KEY)
            if not answered_by_key:
                self.count_plays(cursor)
            for table, statement in q.insert_table_queries.items():
                if statement == q.songplay_table_insert and answered_by_key:
                    step = keys.insert_and_build(cursor, *PLAYS_KEY, lambda table=table: run_step(
                        cursor, table, INSERTED, [q.songplay_table_insert_no_copies], reporter, said=False))
                    if step is not None:
                        reporter.step_done(step)
                        self.staged_plays = self.nextsong_events
                        steps.append(step)
                        continue
                    reporter.line(f"{table}: an event was staged twice; its plays are inserted again, each once")
                    self.count_plays(cursor)
                if (statement == q.songplay_table_insert and self.staged_plays is not None
                        and self.staged_plays == self.nextsong_events):
                    statement = q.songplay_table_insert_no_copies
                with engine.planning(cursor, statement):
                    steps.append(run_step(cursor, table, INSERTED, [statement], reporter))
        self.written = {step.table: step.rows for step in steps if step.table in q.insert_table_queries}
        for step in steps[len(q.insert_table_queries):]:  # the engine's work after the INSERTs
            reporter.step_done(step)
        return steps

    def count_plays(self, cursor) -> None:
        """The plays check's count of distinct staged events, before the fact's INSERT."""
        started = time.perf_counter()
        self.staged_plays = fetch(cursor, check_sql.COUNTED[check_sql.PLAYS_CHECK][0])[0]
        self.checks_seconds += time.perf_counter() - started

    def record(self, cursor, loads, engine) -> None:
        for statement in ledger_setup(self.choice, engine):
            cursor.execute(engine.emptying(statement))
        engine.record_rows(cursor, "loaded_files", ledger_rows(self.choice, loads))

    def check(self, cursor, engine) -> list:
        """The whole checks; each star table's count is the rows its INSERT wrote into it, emptied, and
        the distinct staged events are those counted before the transform."""
        return run_checks(cursor, engine.enforced_constraints(cursor), written=self.written,
                          expected={check_sql.PLAYS_CHECK: self.staged_plays})

    def figures(self, cursor, checks) -> Figures:
        """Plays, of them matched, and duplicate events counted once: the plays check's figures."""
        plays = next(check for check in checks if check.name == check_sql.PLAYS_CHECK)
        matched = fetch(cursor, check_sql.count_matched_plays)[0]
        nextsong_events = self.nextsong_events
        duplicates = None if nextsong_events is None or plays.expected is None else nextsong_events - plays.expected
        return Figures(plays.actual, matched, duplicates)

    def finish(self, cursor) -> None:
        pass


class DailyLoad(FullLoad):
    name = "daily"
    full = False
    staging_targets = WORK_TABLES
    checks_on_change = len(check_sql.change_checks)

    def check_staged(self, loads, source_label):
        pass  # a day without a new song file, or without plays, is a day

    def staging_setup(self):
        return [daily_sql.staging_events_new_create, daily_sql.staging_songs_new_create]

    def analyze_statements(self, loads):
        return [daily_sql.work_tables_analyze[WORK_TABLES[load.table]] for load in loads]

    def transform(self, cursor, engine, reporter):
        """Count the new keys against staging as it was, then append and update the star.

        The work tables stay, for the checks and figures; finish() drops them.
        """
        for statement in engine.transform_settings():
            cursor.execute(statement)
        started = time.perf_counter()
        self.before = before_change(cursor)
        self.checks_seconds = time.perf_counter() - started
        steps = []
        for table, action, statements in daily_steps(daily_sql.incremental_star_queries, daily_sql.COUNTED):
            # the INSERT writes the plays the DELETE before it removed again: the plays added are the rest
            replaced = sum(step.rows or 0 for step in steps if step.action == daily_sql.PLAYS_REPLACED)
            steps.append(run_step(cursor, table, action, statements, reporter,
                                  less=replaced if action == daily_sql.PLAYS_ADDED else 0,
                                  adds=daily_sql.ADDS_TO_STEP))
        return steps

    def check(self, cursor, engine):
        return change_checks(cursor, engine.enforced_constraints(cursor), self.before)

    def figures(self, cursor, checks):
        """The plays this run wrote (added or replaced), of them matched, and duplicates counted once."""
        plays, matched = fetch(cursor, check_sql.written_plays_count)
        events = fetch(cursor, check_sql.new_nextsong_events_count)[0]
        new_plays = self.before["new_keys"][check_sql.NEW_PLAYS_CHECK]
        return Figures(plays, matched, None if events is None or new_plays is None else events - new_plays)

    def finish(self, cursor):
        for table in daily_sql.incremental_work_tables:
            cursor.execute(f"DROP TABLE {table}")


def mode_for(choice, allow_empty=False):
    """The mode a choice of files calls for."""
    return FullLoad(choice, allow_empty) if choice.full else DailyLoad(choice, allow_empty)


# the star's tables a full reload would leave empty without a staging table's records
BUILT_FROM = {"staging_events": "songplay_table, user_table and time_table",
              "staging_songs": "song_table and artist_table"}


def nothing_staged(table, source_label, loads, listed) -> str:
    """The line for a full load that staged no record into ``table``: which part, and what to do."""
    files = sum(load.files for load in loads)
    if files:
        detail = f" (its {files:,} .json file{'s hold' if files > 1 else ' holds'} none)"
    else:
        detail = " (no .json file there)" if listed else ""
    return (f"source {printable(source_label)} has no {PREFIX_OF[table]}/ records{detail}: a full load would "
            f"leave {BUILT_FROM[table]} empty; is it the right source? (etl.py --allow-empty loads it anyway)")


INSERTED = "rows inserted"  # a full load's step for each star table


def daily_steps(queries, counted) -> list[tuple[str, str, list[str]]]:
    """(table, action, statements) of each step of a daily run: a step ends with a counted statement, whose
    rows it shows, and holds the statements of its table before it (the *_changes tables a MERGE reads)."""
    steps, pending = [], []
    for table, statement in queries:
        if pending and pending[-1][0] != table:  # a table's statements that end in nothing counted
            steps.append((pending[0][0], "statements", [text for _, text in pending]))
            pending = []
        pending.append((table, statement))
        if statement in counted:
            steps.append((table, counted[statement], [text for _, text in pending]))
            pending = []
    if pending:
        steps.append((pending[0][0], "statements", [text for _, text in pending]))
    return steps


def run_step(cursor, table, action, statements, reporter, less=0, adds=frozenset(), said=True) -> Step:
    """Run one step's statements, saying when it starts and, in one line, how it ended (unless not ``said``:
    the caller says it, or not): its rows are the last statement's and those of the statements in ``adds``
    (an upsert's UPDATE), less ``less``, some that it counted but were not its own."""
    step = Step(table, action, None, 0.0)
    reporter.step_started(step)
    started = time.perf_counter()
    rows = 0
    for number, statement in enumerate(statements):
        cursor.execute(statement)
        if statement in adds or number == len(statements) - 1:
            count = cursor.rowcount if isinstance(cursor.rowcount, int) and cursor.rowcount >= 0 else None
            rows = None if rows is None or count is None else rows + count
    step = step._replace(rows=None if rows is None else rows - less, seconds=time.perf_counter() - started)
    if said:
        reporter.step_done(step)
    return step


def fetch(cursor, statement) -> tuple:
    """The one row a figure's query returns; a row of None where there is none (a dry run)."""
    cursor.execute(statement)
    return cursor.fetchone() or (None, None)
