"""What a run prints: one line per step, the steps of its summary; counts that add up; --quiet quiet."""

import json
import re

import pytest
from helpers import event, run_main, song, write_source

import etl

DAY = 86_400_000


def plays_of_day(number, count=2):
    return [event(ts=1541030400000 + number * DAY + item, sessionId=number, itemInSession=item,
                  userId=str(number % 3 + 1)) for item in range(count)]


def add_day(source, number, count=2):
    path = source / "log_data" / "2018" / "11" / f"2018-11-{number:02d}-events.json"
    path.write_text("\n".join(json.dumps(item) for item in plays_of_day(number, count)) + "\n", encoding="utf-8")
    return path


def fixed_width_rows(lines, header):
    """The rows of the text table whose header line starts with ``header``, as {column: cell or None}."""
    start = next(number for number, line in enumerate(lines) if line.startswith(header))
    names, dashes = lines[start].split(), lines[start + 1]
    spans = [match.span() for match in re.finditer(r"-+", dashes)]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = [line[begin:end + 8].strip() if i == len(spans) - 1 else line[begin:end].strip()
                 for i, (begin, end) in enumerate(spans)]
        rows.append({name: cell or None for name, cell in zip(names, cells)})
    return rows, start


def number(text):
    return None if text is None else int(text.replace(",", ""))


@pytest.fixture
def source(warehouse, tmp_path):
    """Two days and two songs, loaded; the arguments of a run of them."""
    folder = write_source(tmp_path / "source", songs=[song(), song(song_id="SO2", title="Other")], log_files={})
    for day in (1, 2):
        add_day(folder, day)
    warehouse.create()
    assert run_main(etl.main, ["--dsn", warehouse.dsn, "--source", str(folder)])[0] == 0
    return folder


def etl_run(warehouse, source, *options):
    return run_main(etl.main, ["--dsn", warehouse.dsn, "--source", str(source), *options])


# ---------------------------------------------------------------------------
# One line per step
# ---------------------------------------------------------------------------

PROGRESS = re.compile(r"(?:(?P<table>\w+): )?(?:(?P<rows>\d[\d,]*) )?(?P<action>[a-z][a-z ()]*?)"
                      r"(?: from (?P<files>\d[\d,]*) files?)?(?:, \d[\d,]* rejected)?, \d+\.\d\d s")


@pytest.mark.parametrize("run", ["a daily run of one file", "--full"])
def test_a_run_prints_one_line_per_step_the_steps_of_its_summary(warehouse, source, run):
    if run == "--full":
        status, out, err = etl_run(warehouse, source, "--full")
    else:
        add_day(source, 3)
        status, out, err = etl_run(warehouse, source)
    assert status == 0, err
    lines = out.splitlines()
    steps, table_at = fixed_width_rows(lines, "table  ")
    files_at = next(number for number, line in enumerate(lines) if line.startswith("files: "))
    progress = [PROGRESS.fullmatch(line) for line in lines[files_at + 1:table_at]]
    assert all(progress), lines[files_at + 1:table_at]
    shown = [(match["table"], match["action"], number(match["rows"]), number(match["files"])) for match in progress]
    summary = [(step["table"], step["step"], number(step["rows"]), number(step["files"])) for step in steps
               if step["step"] not in ("listing", "checks")]  # the files line and the checks table say those
    assert shown == summary
    assert len({(table, action) for table, action, _, _ in shown}) == len(shown)  # none twice
    if run != "--full":
        assert len(shown) == 11  # staging and appending two tables, five star tables' steps, the vacuum


# ---------------------------------------------------------------------------
# Counts that add up
# ---------------------------------------------------------------------------

FILES_LINE = re.compile(
    r"files: (?:(?P<staged>[\d,]+) staged \((?P<new>[\d,]+) new, (?P<changed>[\d,]+) changed, "
    r"(?P<before>[\d,]+) loaded before\)|(?P<daily_new>[\d,]+) new, (?P<daily_changed>[\d,]+) changed, "
    r"(?P<skipped>[\d,]+) skipped \(already loaded\))(?:, (?P<outside>[\d,]+) outside --since/--until)?; .+")


@pytest.mark.parametrize("run", ["daily", "--full", "a window of a reload", "nothing new", "the first load"])
def test_the_counts_of_a_run_add_up(warehouse, source, run):
    options = {"--full": ["--full"], "a window of a reload": ["--until", "2018-11-02"]}.get(run, [])
    if run in ("daily", "a window of a reload"):
        add_day(source, 3, count=3)
    if run in ("a window of a reload", "the first load"):
        warehouse.create()  # an empty ledger: everything is loaded
    status, out, err = etl_run(warehouse, source, *options)
    assert status == 0, err
    lines = out.splitlines()
    files = FILES_LINE.fullmatch(next(line for line in lines if line.startswith("files: ")))
    assert files, out
    counts = {name: number(value) or 0 for name, value in files.groupdict().items()}
    if run == "nothing new":
        assert counts["daily_new"] == 0 and counts["skipped"] == 4
        return
    steps = {(step["table"], step["step"]): step for step in fixed_width_rows(lines, "table  ")[0]}
    listed = number(steps[None, "listing"]["files"])
    staged_files = sum(number(steps[table, "rows staged"]["files"]) or 0 for table in ("staging_events",
                                                                                     "staging_songs"))
    figures = next(line for line in lines if line.startswith("plays "))
    if run == "daily":
        assert counts["daily_new"] + counts["daily_changed"] + counts["skipped"] + counts["outside"] == listed
        assert staged_files == counts["daily_new"] + counts["daily_changed"] == 1
        replaced, added = (number(steps["songplay_table", action]["rows"]) for action in ("plays replaced",
                                                                                          "plays added"))
        assert f"plays this run wrote (added or replaced): {replaced + added:,}," in figures
        assert added == 3
    else:
        assert "skipped" not in files.group(0)  # a reload skips nothing
        assert counts["new"] + counts["changed"] + counts["before"] == counts["staged"] == staged_files
        assert counts["staged"] + counts["outside"] == listed
        assert counts["outside"] == (1 if run == "a window of a reload" else 0)
        plays = number(steps["songplay_table", "rows inserted"]["rows"])
        assert figures.startswith("plays matched to the catalogue: ") and figures.split(";")[0].endswith(
            f" of {plays:,}")


# ---------------------------------------------------------------------------
# --quiet: the target, one summary line, warnings and errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["daily", "--full", "nothing new", "--check", "a check that fails",
                                 "a rejected record", "a file no longer in the source"])
def test_quiet_prints_the_target_one_summary_line_and_what_went_wrong(warehouse, source, run):
    options = ["--quiet"]
    if run == "daily":
        add_day(source, 3)
    elif run == "--full":
        options.append("--full")
    elif run in ("--check", "a check that fails"):
        options.append("--check")
        if run == "a check that fails":
            warehouse.connection.cursor().execute("DELETE FROM songplay_table WHERE item_in_session = 0")
            warehouse.connection.commit()
    elif run == "a rejected record":
        add_day(source, 3).write_text(json.dumps(event(sessionId="abc")) + "\n")
    elif run == "a file no longer in the source":
        (source / "log_data" / "2018" / "11" / "2018-11-01-events.json").unlink()
    status, out, err = etl_run(warehouse, source, *options)
    target, *summary = out.splitlines()
    assert target.startswith("Target: ")
    assert len(summary) == (0 if run == "a rejected record" else 1), out
    assert not re.search(r"^(PASS|FAIL|check|table|-----)", out + err, re.M)  # no table of steps or checks
    expected = {"a check that fails": 1, "a rejected record": 1}.get(run, 0)
    assert status == expected, err
    if run == "a check that fails":
        assert summary[0].startswith("2 of 14 checks FAILED (songplays = distinct NextSong events: expected 4, "
                                     "actual 2; time rows = distinct play start times: expected 2, actual 4)")
        assert err.startswith("error: 2 of 14 checks failed\n")
    elif run == "a file no longer in the source":
        assert err.startswith("warning: 1 file in the ledger is no longer in the source")
    elif status == 0:
        assert err == ""
