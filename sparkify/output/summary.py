"""The summary a run ends with, readable at a glance: its steps, its figures, its checks."""

from sparkify.output.report import cell_text, table

SHOWN_REJECTED = 20


def summary(result) -> str:
    if result.choice is None or result.nothing_new:  # the files line was printed before staging, otherwise
        return "\n".join(([result.choice.describe()] if result.choice else []) + result.warnings)
    lines = [steps_table(result.all_steps), ""]
    lines.append(f"{figures_line(result)}; rejected records: {result.rejected_count:,}")
    shown = result.rejected[:SHOWN_REJECTED]
    for record in shown:
        lines.append(f"  rejected {record.table_name} {record.describe()}")
    if result.rejected_count > len(shown):
        lines.append(f"  ... and {result.rejected_count - len(shown):,} more: SELECT * FROM rejected_records")
    lines += result.warnings
    lines += ["", checks_table(result.checks), "", verdict(result)]
    return "\n".join(lines)


def steps_table(steps) -> str:
    """One row per step, as the progress lines and --json show them."""
    rows = [(step.table, step.action, step.files, step.rows, step.rejected, seconds(step.seconds)) for step in steps]
    return table(rows, ["table", "step", "files", "rows", "rejected", "seconds"], ["<", "<", ">", ">", ">", ">"])


def seconds(value: float) -> str:
    return f"{value:.2f}"


def figures_line(result) -> str:
    figures = result.figures
    plays, matched = figures.plays or 0, figures.matched_plays or 0
    duplicates = f"duplicate events staged and counted once: {figures.duplicate_events or 0:,}"
    if result.mode == "daily":
        return (f"plays this run wrote (added or replaced): {plays:,}, {matched:,} of them matched to the "
                f"catalogue; {duplicates}")
    return f"plays matched to the catalogue: {matched:,} of {plays:,}; {duplicates}"


def verdict(result) -> str:
    checks, failed = result.checks, len(result.failed_checks)
    if failed:
        return f"{failed} of {len(checks)} checks FAILED: rolled back, the previous warehouse is unchanged."
    on_change = (f" ({result.checks_on_change} of them on this run's change; etl.py --check checks the whole "
                 "warehouse)" if result.checks_on_change else "")
    return f"All {len(checks)} checks passed{on_change}; committed in {result.seconds:.1f} s."


def one_line(result) -> str:
    """The --quiet summary: what the run did, in one line (its warnings go to stderr: etl.py)."""
    if result.nothing_new:
        return result.choice.describe()
    staged = ", ".join(f"{load.table} {load.rows or 0:,}" for load in result.loads)
    said = verdict(result)
    return (f"{result.choice.describe()}; {result.mode} load: {staged}; {figures_line(result)}; "
            f"rejected records: {result.rejected_count:,}; {said[:1].lower()}{said[1:]}")


def check_summary(checks, seconds, quiet=False) -> str:
    """What etl.py --check ends with: the checks' table and a verdict; with --quiet, the verdict alone,
    naming the checks that failed."""
    failed = [check for check in checks if not check.passed]
    if failed:
        named = "; ".join(f"{check.name}: expected {cell_text(check.expected)}, actual {cell_text(check.actual)}"
                          for check in failed) if quiet else ""
        verdict = (f"{len(failed)} of {len(checks)} checks FAILED{f' ({named})' if named else ''}: the warehouse "
                   "no longer matches its staging. etl.py --full rebuilds it from the source.")
    else:
        verdict = f"All {len(checks)} checks passed on the whole warehouse, in {seconds:.1f} s."
    return verdict if quiet else "\n".join([checks_table(checks), "", verdict])


def checks_table(checks) -> str:
    return table(
        [("PASS" if check.passed else "FAIL", check.name, check.expected, check.actual, check.how) for check in checks],
        ["check", "guarantee", "expected", "actual", "how"],
        ["<", "<", ">", ">", "<"],
    )
