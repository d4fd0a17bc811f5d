"""A source path that is not what it should be never hangs, never reads without bound, never prints a traceback.

Each kind of hostile path (a FIFO, a symlink to /dev/zero, a directory, a
dangling symlink, a file nobody may read, a disk that fails mid-read, a file
too large) is put where the JSONPaths file, the source folder or a data file
should be, and given to etl.py and to doctor.py: both read the source through
sparkify/sources/, so both must say, in one line naming the path, what it is
and what to do. Root reads every file, so an unreadable file and a failing
disk are made by making os.open or os.read fail as the kernel would.
"""

import errno
import os
import signal
from contextlib import contextmanager

import pytest
from failure_cases import FAILURES
from helpers import event, song, write_source

import doctor as doctor_command
import etl
from sparkify.sources.jsonpaths import MAX_JSONPATHS_BYTES

SECONDS = 20  # far more than any case needs: past it, the command is blocked


class Blocked(Exception):
    """The command did not return: it waits on a FIFO, or reads without end."""


@contextmanager
def deadline(seconds=SECONDS):
    def expired(signum, frame):
        raise Blocked(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------
# The kinds: each makes ``path`` hostile and says what the message must say
# ---------------------------------------------------------------------------


def a_fifo(path, monkeypatch):
    os.mkfifo(path)
    return "is a FIFO"


def a_symlink_to_dev_zero(path, monkeypatch):
    os.symlink("/dev/zero", path)
    return "is a device (a symlink to /dev/zero)"


def a_directory(path, monkeypatch):
    path.mkdir()
    return "is a directory"


def a_dangling_symlink(path, monkeypatch):
    os.symlink(path.parent / "nowhere", path)
    return f"is a symlink to {path.parent / 'nowhere'}, which is not there"


def unreadable(path, monkeypatch):
    """A file the user may not read (EACCES from open, with the file's name, as the kernel reports it)."""
    path.write_text("{}")
    real_open = os.open

    def refusing_open(file, flags, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    return "Permission denied: check its permissions"


def failing_disk(path, monkeypatch):
    """A disk that fails mid-read: EIO from read(), which names no file."""
    path.write_text("{}")
    real_open, real_read = os.open, os.read
    opened = set()

    def recording_open(file, flags, *args, **kwargs):
        descriptor = real_open(file, flags, *args, **kwargs)
        if os.fspath(file) == os.fspath(path):
            opened.add(descriptor)
        return descriptor

    def failing_read(descriptor, size):
        if descriptor in opened:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_read(descriptor, size)

    monkeypatch.setattr(os, "open", recording_open)
    monkeypatch.setattr(os, "read", failing_read)
    return "Input/output error: the disk or network file system holding it failed"


def too_large(path, monkeypatch):
    with open(path, "wb") as stream:  # sparse: no disk used
        stream.truncate(MAX_JSONPATHS_BYTES + 1)
    return f"is {MAX_JSONPATHS_BYTES + 1:,} bytes or more, larger than the {MAX_JSONPATHS_BYTES:,}"


def a_regular_file(path, monkeypatch):
    path.write_text("not a folder")
    return "is a file, not a folder"


JSONPATHS_KINDS = [a_fifo, a_symlink_to_dev_zero, a_directory, a_dangling_symlink, unreadable, failing_disk,
                   too_large]
ROOT_KINDS = [a_regular_file, a_fifo, a_symlink_to_dev_zero, a_dangling_symlink]


def kinds(functions):
    return [pytest.param(function, id=function.__name__.replace("_", " ")) for function in functions]


@pytest.fixture
def source(tmp_path):
    return write_source(tmp_path / "source", events=[event()], songs=[song()])


@pytest.fixture
def run_etl(warehouse, capsys):
    """etl.py's main() on ``folder``, which replaces the source of the previous test (--replace-source)."""
    def run(folder, *options):
        with deadline():
            code = etl.main(["--dsn", warehouse.dsn, "--source", str(folder), "--replace-source", *options])
        return code, *capsys.readouterr()
    return run


@pytest.fixture
def run_doctor(warehouse, capsys):
    def run(folder):
        with deadline():
            code = doctor_command.main(["--dsn", warehouse.dsn, "--source", str(folder)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out.splitlines()
    return run


def assert_one_clear_error(code, err, *fragments):
    assert code == 1, err
    assert "Traceback" not in err
    error, *rest = err.strip().splitlines()
    assert error.startswith("error: ")
    for fragment in fragments:
        assert fragment in error
    assert rest == ["Nothing was committed: the previous warehouse is unchanged."]


# ---------------------------------------------------------------------------
# The JSONPaths file
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", kinds(JSONPATHS_KINDS))
def test_a_hostile_jsonpaths_file_fails_etl_in_one_line_naming_it(run_etl, source, monkeypatch, make):
    jsonpaths = source / "log_json_path.json"
    jsonpaths.unlink()
    says = make(jsonpaths, monkeypatch)
    code, out, err = run_etl(source)
    assert_one_clear_error(code, err, f"{jsonpaths}", says)
    if make is a_fifo:  # the row of docs/failures.md
        case = FAILURES["`log_json_path.json` is a FIFO, a device or over 4 MB"]
        assert code == case.exit_code and case.message in err


@pytest.mark.parametrize("make", kinds(JSONPATHS_KINDS))
def test_a_hostile_jsonpaths_file_is_one_failed_check_of_doctor(run_doctor, source, monkeypatch, make):
    jsonpaths = source / "log_json_path.json"
    jsonpaths.unlink()
    says = make(jsonpaths, monkeypatch)
    code, lines = run_doctor(source)
    assert code == 1
    [failed] = [line for line in lines if line.startswith("FAIL")]
    assert str(jsonpaths) in failed and says in failed


# ---------------------------------------------------------------------------
# The source folder itself
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", kinds(ROOT_KINDS))
def test_a_source_that_is_not_a_folder_fails_etl_in_one_line_naming_it(run_etl, tmp_path, monkeypatch, make):
    given = tmp_path / "given"
    says = make(given, monkeypatch)
    code, out, err = run_etl(given)
    assert_one_clear_error(code, err, str(given), says if make is not a_dangling_symlink else "not there")
    if make is a_regular_file:
        case = FAILURES["`--source` naming a file, not a folder"]
        assert code == case.exit_code and case.message in err


@pytest.mark.parametrize("make", kinds(ROOT_KINDS))
def test_doctor_given_a_source_that_is_not_a_folder_says_so_once(run_doctor, tmp_path, monkeypatch, make):
    given = tmp_path / "given"
    says = make(given, monkeypatch)
    code, lines = run_doctor(given)
    assert code == 1
    [failed] = [line for line in lines if line.startswith("FAIL")]
    assert str(given) in failed and (says if make is not a_dangling_symlink else "not there") in failed


# ---------------------------------------------------------------------------
# A data file
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", kinds([a_fifo, a_symlink_to_dev_zero, a_dangling_symlink]))
def test_a_data_file_that_is_not_a_file_is_left_out_with_a_warning_by_both(
    run_etl, run_doctor, source, monkeypatch, make
):
    odd = source / "log_data" / "2018" / "11" / "odd.json"
    make(odd, monkeypatch)
    code, out, err = run_etl(source, "--full")
    assert code == 0, err
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert any(f" {odd}: " in line and line.endswith(": not loaded") for line in warnings), warnings
    code, lines = run_doctor(source)
    assert code == 0, lines
    assert any(line.startswith(f"warn  {odd}: ") for line in lines), lines


@pytest.mark.parametrize("make", kinds([unreadable, failing_disk]))
def test_a_data_file_that_cannot_be_read_fails_the_load_in_one_line_naming_it(run_etl, source, monkeypatch, make):
    [events] = (source / "log_data").rglob("*.json")
    says = make(events, monkeypatch)
    code, out, err = run_etl(source, "--full")
    assert_one_clear_error(code, err, str(events), says)
    case = FAILURES["a source file that cannot be read (permissions, a failing disk)"]
    assert code == case.exit_code and (case.message in err or make is not failing_disk)


# ---------------------------------------------------------------------------
# doctor.py lists as the loader lists
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".JSON", ".Json", ".json"])
def test_doctor_passes_a_source_that_etl_loads_whatever_the_case_of_json(
    run_etl, run_doctor, tmp_path, suffix
):
    folder = write_source(tmp_path / "cases", events=[event()], songs=[song()])
    for path in sorted(folder.rglob("*.json")):
        if path.name != "log_json_path.json":
            path.rename(path.with_suffix(suffix))
    code, out, err = run_etl(folder, "--full")
    assert code == 0, err
    code, lines = run_doctor(folder)
    assert code == 0, lines
    assert f"ok    {folder}/log_data holds .json files (log_data/2018/11/2018-11-01-events{suffix}, ...)" in lines
    assert f"ok    {folder}/song_data holds .json files (song_data/A/B/C/TRABC0000000000000{suffix}, ...)" in lines
