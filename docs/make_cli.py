"""Write docs/cli.md from each script's --help: python docs/make_cli.py > docs/cli.md (a test holds it to that)."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPTS = ["create_tables.py", "etl.py", "query.py", "doctor.py", "cluster.py"]


def help_text(script: str) -> str:
    environment = {**os.environ, "COLUMNS": "100"}
    result = subprocess.run([sys.executable, script, "--help"], cwd=PROJECT_DIR, capture_output=True, text=True,
                            env=environment, check=True)
    return result.stdout.rstrip()


def render() -> str:
    parts = [
        "# Command-line reference",
        "",
        "Generated from each script's `--help` by `docs/make_cli.py`; run the scripts with",
        "`.venv/bin/python SCRIPT`. Every script also takes `--version`.",
    ]
    for script in SCRIPTS:
        parts += ["", f"## {script}", "", "```text", help_text(script), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
