"""The reconciliation checks of the data contract (docs/data-contract.md#accounting-checks).

They check the whole warehouse, or a daily run's change.

A full load runs the whole checks: each compares a count of the star with the
count of staging it must equal (``songplays = distinct NextSong events``).
They read the whole month, so a daily run checks its change instead: that
each star table grew by exactly the new keys its new records bring
(``songplays added = new distinct NextSong events``). The warehouse before
the change passed the checks of the run that committed it, so the two
together are the whole checks again; ``etl.py --check`` runs the whole checks
on demand, for a warehouse that may have been changed by hand since.

On PostgreSQL the key and relationship checks are constraints of the DDL,
which the database enforces on every row: they name the constraint instead
of counting. On Redshift, where constraints are informational, they count.
"""

import sql_queries as q
from sparkify.checks import reconciliation_sql as check_sql
from sparkify.results import Check


def run_checks(cursor, enforced=frozenset(), queries=None, written=None, expected=None) -> list[Check]:
    """The whole-warehouse checks, in order (default: all of reconciliation_sql.check_queries).

    ``enforced``: the (table, definition) of the constraints the database
    enforces (the engine's enforced_constraints()); a check that such a
    constraint holds names it instead of counting. ``written``: star table ->
    the rows a full load has just written into it, emptied first (None in a
    dry run); a counted check of that table takes them as its table's count
    instead of reading the table again. ``expected``: check name -> its
    count of the other side, when the run has already counted it.
    """
    results = []
    for name, statement in (check_sql.check_queries if queries is None else queries).items():
        constraint = check_sql.check_constraints.get(name)
        if constraint in enforced:
            results.append(Check(name, None, None, constraint[1]))
            continue
        expected_sql, table = check_sql.COUNTED.get(name, (None, None))
        if written and table in written and statement == check_sql.check_queries.get(name):
            if expected and name in expected:
                results.append(Check(name, expected[name], written[table]))
                continue
            cursor.execute(expected_sql)
            results.append(Check(name, (cursor.fetchone() or (None,))[0], written[table]))
            continue
        cursor.execute(statement)
        expected, actual = cursor.fetchone() or (None, None)
        results.append(Check(name, expected, actual))
    return results


def star_counts(cursor) -> dict[str, int]:
    """Each star table's row count."""
    cursor.execute(check_sql.star_counts)
    return dict(zip(q.star_tables, cursor.fetchone() or (None,) * len(q.star_tables)))


def before_change(cursor) -> dict:
    """What a daily run's checks need from before its change: the new keys
    each check expects (counted against staging before the new records join
    it) and the star's row counts."""
    new_keys = {}
    for name, (_, statement) in check_sql.change_checks.items():
        cursor.execute(statement)
        new_keys[name] = (cursor.fetchone() or (None,))[0]
    return {"new_keys": new_keys, "counts": star_counts(cursor)}


def change_checks(cursor, enforced, before) -> list[Check]:
    """A daily run's checks: each star table grew by its new keys; then the
    key and relationship checks, as in a full run."""
    after = star_counts(cursor)
    grown = [
        Check(name, before["new_keys"][name], _grown(after[table], before["counts"][table]))
        for name, (table, _) in check_sql.change_checks.items()
    ]
    return grown + run_checks(cursor, enforced, check_sql.key_checks)


def _grown(after, before):
    return None if after is None or before is None else after - before
