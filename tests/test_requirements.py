"""The first command installs what the pipeline, the scripts and the notebook need, and nothing more."""

import re

import pytest
from conftest import PROJECT_DIR

TEST_AND_LINT_ONLY = ["pytest", "pytest-timeout", "hypothesis", "moto", "sqlglot", "ruff", "nbstripout", "sqlalchemy"]


def requirements(name):
    """(package name, line) for each requirement of a file; -r lines as they are."""
    lines = (PROJECT_DIR / name).read_text(encoding="utf-8").splitlines()
    entries = [line.split("#")[0].strip() for line in lines]
    return [entry for entry in entries if entry]


def package(entry):
    return re.split(r"[\[=<>~! ]", entry, maxsplit=1)[0].lower()


@pytest.mark.parametrize("name", TEST_AND_LINT_ONLY)
def test_the_lean_install_holds_no_test_or_lint_package(name):
    assert name not in [package(entry) for entry in requirements("requirements.txt")]


def test_the_dev_install_starts_from_the_lean_one_and_adds_the_tests_and_lint():
    dev = requirements("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    assert sorted(package(entry) for entry in dev[1:]) == sorted(TEST_AND_LINT_ONLY)


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    for entry in requirements(name):
        assert entry.startswith("-r ") or "==" in entry, f"{name}: {entry} is not pinned"
