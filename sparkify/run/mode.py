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
from sparkify.run.ledger import PREFIX_OF, ledger_statements

WORK_TABLES = {"staging_events": "staging_events_new", "staging_songs": "staging_songs_new"}

# The planner's statistics for the staging columns that the transform filters,
# joins and groups on: ANALYZE of all eighteen of staging_events, its long
# text columns included, took half as long again.
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

        The plays check's count of distinct staged events, and the NextSong
        events, are counted first: when the two are equal, no event was
        staged twice, and the fact's INSERT has no copies to rank.
        """
        for statement in engine.clear_star() + engine.transform_settings():
            cursor.execute(statement)
        started = time.perf_counter()
        self.staged_plays = fetch(cursor, check_sql.COUNTED[check_sql.PLAYS_CHECK][0])[0]
        self.nextsong_events = fetch(cursor, check_sql.count_nextsong_events)[0]
        self.checks_seconds = time.perf_counter() - started
        no_copies = self.staged_plays is not None and self.staged_plays == self.nextsong_events
        steps = []
        with engine.bulk_insert(cursor, q.star_tables, steps):
            for table, statement in q.insert_table_queries.items():
                if no_copies and statement == q.songplay_table_insert:
                    statement = q.songplay_table_insert_no_copies
                steps.append(run_step(cursor, table, statement, reporter))
        self.written = {step.name: step.rows for step in steps if step.name in q.insert_table_queries}
        return steps

    def record(self, cursor, loads, engine) -> None:
        for statement, values in ledger_statements(self.choice, loads, engine):
            cursor.execute(statement, values)

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
        rows, seconds = {}, {}
        for table, statement in daily_sql.incremental_star_queries:
            step = run_step(cursor, daily_sql.COUNTED.get(statement, table), statement, reporter)
            seconds[table] = seconds.get(table, 0.0) + step.seconds
            if statement in daily_sql.COUNTED:
                label = daily_sql.COUNTED[statement]
                rows[label] = rows.get(label, 0) + (step.rows or 0)
        rows["songplay_table: plays added"] -= rows["songplay_table: plays replaced"]
        return [Step(label, count, seconds.pop(label.split(":")[0], 0.0)) for label, count in rows.items()]

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


def run_step(cursor, name, statement, reporter) -> Step:
    """Run one transform statement, saying when it starts and how it ended."""
    reporter.step_started(name)
    started = time.perf_counter()
    cursor.execute(statement)
    rows = cursor.rowcount if isinstance(cursor.rowcount, int) and cursor.rowcount >= 0 else None
    step = Step(name, rows, time.perf_counter() - started)
    reporter.step_done(step)
    return step


def fetch(cursor, statement) -> tuple:
    """The one row a figure's query returns; a row of None where there is none (a dry run)."""
    cursor.execute(statement)
    return cursor.fetchone() or (None, None)
