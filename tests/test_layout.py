"""The project's files hold together: imports go one way, no sys.path edits, no docstring names what is gone.

- A test module imports the project and the shared modules of tests/
  (helpers.py, fake_redshift.py, ...), never conftest.py or another test
  module; conftest.py holds fixtures and hooks only.
- Nothing edits sys.path: pytest.ini's ``pythonpath`` serves the tests, and
  the scripts of bench/ and docs/ run as modules from the project's root.
- A docstring or a comment that names a Python file or calls a function
  by name (with its parentheses), and a page of the docs that names a
  Python file, name one that exists.
"""

import ast
import io
import os
import re
import signal
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from helpers import PROJECT_DIR

TESTS = PROJECT_DIR / "tests"
SKIPPED_FOLDERS = {".venv", ".git", ".pgdata", ".cache", "__pycache__", ".hypothesis", "node_modules"}
# Functions of SQL, not of Python, that comments name
SQL_FUNCTIONS = {"current_schema", "pg_get_constraintdef", "pg_last_copy_id", "pg_last_copy_count", "pg_backend_pid",
                 "to_timestamp", "ROW_NUMBER", "pause_here", "pg_blocking_pids"}


def project_files(pattern):
    return sorted(
        path for path in PROJECT_DIR.rglob(pattern)
        if not SKIPPED_FOLDERS & set(path.relative_to(PROJECT_DIR).parts)
    )


def parse(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path):
    """Every module ``path`` imports: import statements, __import__("...") and import_module("...")."""
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in ("__import__", "import_module"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.args[0].value


@pytest.mark.parametrize("path", project_files("tests/**/*.py"), ids=lambda path: path.name)
def test_no_module_of_the_tests_imports_conftest_or_a_test_module(path):
    wrong = [name for name in imported_modules(path) if name.split(".")[0] == "conftest"
             or name.split(".")[-1].startswith("test_")]
    assert wrong == [], f"{path.name}: import these from helpers.py (or a shared module of tests/)"


@pytest.mark.parametrize("path", project_files("conftest.py"), ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_conftest_holds_only_fixtures_and_hooks(path):
    def is_fixture(node):
        return any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)

    others = []
    for node in parse(path).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not (is_fixture(node) or node.name.startswith("pytest_")):
                others.append(node.name)
        elif isinstance(node, ast.ClassDef | ast.Assign | ast.AnnAssign):
            others.append(ast.unparse(node).splitlines()[0])
    assert others == [], "move these to helpers.py"


@pytest.mark.parametrize("path", project_files("*.py"), ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_nothing_edits_sys_path(path):
    edits = [node.lineno for node in ast.walk(parse(path))
             if isinstance(node, ast.Attribute) and node.attr == "path"
             and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert edits == [], f"{path.relative_to(PROJECT_DIR)}: sys.path at lines {edits}"


BENCH_AND_DOCS_SCRIPTS = ["bench.run", "bench.incremental_day", "bench.disk_use", "bench.plans", "bench.floor",
                          "bench.final", "docs.make_plots"]


@pytest.mark.parametrize("module", BENCH_AND_DOCS_SCRIPTS)
def test_the_bench_and_docs_scripts_run_as_modules_from_the_root(module):
    if module == "docs.make_plots":
        pytest.importorskip("matplotlib")  # the notebook's packages
    result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


def comments_and_docstrings(path):
    """(line, text) of each comment and docstring of a Python file."""
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                yield node.body[0].lineno, docstring


def defined_names():
    """Every function, class, attribute and name that the project's Python files define or use."""
    names = set(dir(__builtins__)) | SQL_FUNCTIONS
    for path in project_files("*.py"):
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
    return names


def test_every_file_and_function_a_docstring_or_comment_names_exists():
    files = {path.name for path in project_files("*") if path.is_file()}
    names = defined_names()
    stale = []
    for path in project_files("*.py"):
        for line, text in comments_and_docstrings(path):
            for match in re.finditer(r"(?<![\w/.-])([A-Za-z_][\w/]*\.py)\b", text):
                if Path(match.group(1)).name not in files:
                    stale.append(f"{path.relative_to(PROJECT_DIR)}:{line}: {match.group(1)}")
            for match in re.finditer(r"(?<![\w.])(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)\(\)", text):
                if match.group(1) not in names:
                    stale.append(f"{path.relative_to(PROJECT_DIR)}:{line}: {match.group(0)}")
    for path in project_files("*.md"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"(?<![\w/.-])([A-Za-z_][\w/]*\.py)\b", text):
            if Path(match.group(1)).name not in files:
                stale.append(f"{path.relative_to(PROJECT_DIR)}:{text.count(chr(10), 0, match.start()) + 1}: "
                             f"{match.group(1)}")
    assert stale == []


# ---------------------------------------------------------------------------
# A test run cleans up after itself
# ---------------------------------------------------------------------------

A_TEST_WITH_LARGE_FILES = '''
def test_writes_a_large_file_and_uses_the_embedded_server(dsn, tmp_path):
    (tmp_path / "large").write_bytes(bytes(4_000_000))
'''


def run_pytest(tmp_path, name, text, **options) -> subprocess.CompletedProcess:
    """pytest, as the suite runs, on one test file ``name`` holding ``text``, in its own base folder."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if key != "DWH_DSN"}
    environment["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(PROJECT_DIR)])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "-c",
         str(PROJECT_DIR / "pytest.ini"), "--rootdir", str(PROJECT_DIR), f"--basetemp={tmp_path / 'basetemp'}",
         str(tmp_path / name)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, env=environment, **options,
    )


def test_a_passing_run_leaves_neither_its_server_nor_its_tests_files(tmp_path):
    """The session's embedded server (its WAL grows to hundreds of MB) and each passing test's tmp_path go."""
    result = run_pytest(tmp_path, "test_large.py", A_TEST_WITH_LARGE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    basetemp = tmp_path / "basetemp"
    left = sorted(path.relative_to(basetemp).as_posix() for path in basetemp.rglob("*") if path.is_file())
    assert left == []


A_TEST_OF_CTRL_C = '''
import signal

import pytest


def test_ctrl_c_interrupts():
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
'''


def test_ctrl_c_reaches_the_tests_of_a_run_started_with_sigint_ignored(tmp_path):
    """A background job of a shell starts with SIGINT ignored: the suite's tests of Ctrl-C must still see it."""
    result = run_pytest(tmp_path, "test_ctrl_c.py", A_TEST_OF_CTRL_C,
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert result.returncode == 0, result.stdout + result.stderr


def environment_reads(tree) -> list[int]:
    """Lines of ``tree`` that read one environment variable by name: os.environ[...], os.environ.get(...),
    os.getenv(...). Copying the whole environment for a child process is not reading a setting."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", sorted((PROJECT_DIR / "sparkify").rglob("*.py")),
                         ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_only_config_reads_a_setting_from_the_environment(path):
    """config.py owns dwh.cfg and the DWH_* variables (its docstring lists them): another reader would be a
    second owner of the same fact."""
    if path == PROJECT_DIR / "sparkify" / "config.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert environment_reads(tree) == [], f"{path.relative_to(PROJECT_DIR)} reads the environment itself"
