"""The README promises only what the project does."""

from conftest import PROJECT_DIR
from failure_cases import render


def test_readme_failure_table_is_the_one_the_tests_check():
    """README's "What happens when things go wrong" is rendered from tests/failure_cases.py."""
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert render() in readme, "regenerate it: python tests/failure_cases.py, and paste it into README.md"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m pytest"
    )
    assert test_command in readme
    assert test_command in ci.splitlines(), "CI runs exactly the README's test command"
