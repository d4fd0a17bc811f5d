"""The README promises only what the project does."""

from failure_cases import render
from helpers import PROJECT_DIR


def test_the_failures_page_is_the_table_the_tests_check():
    """docs/failures.md is rendered from tests/failure_cases.py, and the README links it rather than repeating it."""
    page = (PROJECT_DIR / "docs" / "failures.md").read_text(encoding="utf-8")
    assert page == render(), "regenerate it: python tests/failure_cases.py > docs/failures.md"
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert "docs/failures.md" in readme and "| case | exit code |" not in readme


def test_readme_commands_are_the_ones_ci_runs():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m pytest"
    )
    assert test_command in readme
    assert test_command in ci.splitlines(), "CI runs exactly the README's test command"
