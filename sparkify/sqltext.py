"""SQL text: secrets masked, a statement on one line for a log, a script a client can run."""

import re


def literal_text(value) -> str:
    """``value``'s text, for a literal: each engine quotes it by its database's rules (sparkify/engines/).

    No SQL text can carry a NUL character: it is refused, never cut.
    """
    text = str(value)
    if "\x00" in text:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return text


# Literals that may hold a secret, should a statement ever carry one: the
# pipeline's COPY uses IAM_ROLE (no secret), but a log line or a --dry-run
# must never show credentials whatever the statement.
_SECRET = re.compile(
    r"\b(CREDENTIALS|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|MASTER_SYMMETRIC_KEY|PASSWORD)"
    r"(\s+(?:AS\s+)?)'(?:[^'\\]|''|\\.)*'",
    re.IGNORECASE,
)


def redact(statement: str) -> str:
    """The statement with every credential literal replaced by '***'."""
    return _SECRET.sub(r"\1\2'***'", statement)


def summarise(statement: str, width: int = 100) -> str:
    """The statement on one line, secrets masked, cut to ``width`` characters: for a log."""
    text = " ".join(redact(statement).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def as_script(statements) -> str:
    """Plain SQL that a SQL client can run: each statement ends with ``;``,
    a ``--`` comment stays a comment, and secrets are masked."""
    parts = []
    for statement in statements:
        text = redact(statement.strip())
        parts.append(text if text.startswith("--") else text + ";")
    return "\n\n".join(parts) + "\n"
