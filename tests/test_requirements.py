"""The first command installs what the pipeline and the scripts need, and nothing more.

Three files: requirements.txt (the pipeline and the five scripts),
requirements-notebook.txt (adds the notebook's packages), requirements-dev.txt
(adds the tests, the linter and the benchmark's). Every module the scripts can
import, at start or later on any path a user takes, comes from the standard
library, the project, or a package that requirements.txt installs.
"""

import ast
import importlib.metadata
import re
import subprocess
import sys

import pytest
from helpers import PROJECT_DIR
from packaging.requirements import Requirement

SCRIPTS = ["etl.py", "create_tables.py", "query.py", "doctor.py", "cluster.py"]
NOTEBOOK_ONLY = ["pandas", "jupyter", "matplotlib", "ipykernel", "nbclient", "nbformat"]
TEST_AND_LINT_ONLY = ["pytest", "pytest-timeout", "hypothesis", "moto", "sqlglot", "ruff", "nbstripout", "sqlalchemy"]
NOTEBOOK_PACKAGE = "sparkify/analytics"  # the notebook's own code: its charts and questions


def requirements(name):
    """The requirements of a file, comments left out; -r lines as they are."""
    lines = (PROJECT_DIR / name).read_text(encoding="utf-8").splitlines()
    entries = [line.split("#")[0].strip() for line in lines]
    return [entry for entry in entries if entry]


def package(entry):
    return re.split(r"[\[=<>~! ]", entry, maxsplit=1)[0].lower()


def lean_distributions():
    """requirements.txt's distributions and everything they require, as installed here (extras left out)."""
    wanted = [package(entry) for entry in requirements("requirements.txt")]
    found = set()
    while wanted:
        name = re.sub(r"[-_.]+", "-", wanted.pop()).lower()
        if name in found:
            continue
        found.add(name)
        for line in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return found


def lean_modules():
    """The top-level modules a lean install provides: its distributions', the standard library's, the project's."""
    lean = lean_distributions()
    provided = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", name).lower() in lean for name in distributions)
    }
    project = {path.stem for path in PROJECT_DIR.glob("*.py")} | {"sparkify"}
    return provided | set(sys.stdlib_module_names) | project


def pipeline_modules():
    """The scripts, sql_queries.py and every module of sparkify/ but the notebook's."""
    paths = [PROJECT_DIR / name for name in [*SCRIPTS, "sql_queries.py"]]
    paths += [path for path in sorted((PROJECT_DIR / "sparkify").rglob("*.py"))
              if not path.relative_to(PROJECT_DIR).as_posix().startswith(NOTEBOOK_PACKAGE)]
    return paths


def imports_of(path):
    """(line, top-level module) of every import in ``path``, inside functions too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("name", NOTEBOOK_ONLY + TEST_AND_LINT_ONLY)
def test_the_lean_install_holds_no_notebook_test_or_lint_package(name):
    assert name not in [package(entry) for entry in requirements("requirements.txt")]


def test_the_notebook_install_starts_from_the_lean_one_and_adds_the_notebook():
    notebook = requirements("requirements-notebook.txt")
    assert notebook[0] == "-r requirements.txt"
    assert sorted(package(entry) for entry in notebook[1:]) == sorted(NOTEBOOK_ONLY)


def test_the_dev_install_holds_the_lean_and_notebook_ones_and_adds_the_tests_and_lint():
    dev = requirements("requirements-dev.txt")
    assert dev[:2] == ["-r requirements.txt", "-r requirements-notebook.txt"]
    assert sorted(package(entry) for entry in dev[2:]) == sorted(TEST_AND_LINT_ONLY)


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-notebook.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    for entry in requirements(name):
        assert entry.startswith("-r ") or "==" in entry, f"{name}: {entry} is not pinned"


def test_every_import_of_the_scripts_and_the_pipeline_comes_with_the_lean_install():
    """On any path: an import inside a function counts, as a user of the lean install may take it."""
    provided = lean_modules()
    outside = [
        f"{path.relative_to(PROJECT_DIR)}:{line}: {module}"
        for path in pipeline_modules()
        for line, module in imports_of(path)
        if module not in provided
    ]
    assert outside == []


def test_the_scripts_and_the_pipeline_import_where_only_the_lean_install_is_there():
    """A lean install simulated: importing a module that requirements.txt does not bring fails, as it would there.

    What the imports pull in behind them counts too; a package's optional
    import (one it does without) is free to fail.
    """
    modules = [".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts) for path in pipeline_modules()]
    modules = [name.removesuffix(".__init__") for name in modules]
    program = f"""
import importlib, importlib.abc, sys

PROVIDED = {sorted(lean_modules())!r}


class LeanInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in PROVIDED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed by requirements.txt)", name=name)


sys.meta_path.insert(0, LeanInstall())
for name in {modules!r}:
    importlib.import_module(name)
"""
    result = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_DIR, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
