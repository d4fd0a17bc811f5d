"""The README promises only what the project does, and its links (and the docs' links) lead somewhere."""

import re

import pytest
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


def heading_slugs(page):
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, -1 on repeats."""
    seen, slugs = {}, set()
    for heading in re.findall(r"^#{1,6} +(.*?) *#*$", without_code(page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        slugs.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return slugs


def without_code(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


@pytest.mark.parametrize("page", ["README.md", *sorted(path.name for path in (PROJECT_DIR / "docs").glob("*.md"))])
def test_every_relative_link_reaches_a_file_and_a_heading(page):
    path = PROJECT_DIR / page if page == "README.md" else PROJECT_DIR / "docs" / page
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = path.parent / file_part if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in heading_slugs(linked)):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []
