"""JSONPaths files: which JSON value goes into which column.

Redshift's ``COPY ... FORMAT AS JSON 'jsonpaths_file'`` maps the n-th path of
the file to the n-th column of the table. The local loader reads the same file
from the source (it is never hard-coded), so the two engines stage the same
values. Supported: the bracket and dot notations Redshift accepts, e.g.
``$['userId']``, ``$["userId"]``, ``$.userId``, ``$['a']['b']``, ``$['a'][0]``.
"""

import json
import re

from sparkify.sources import SourceError, SourceNotFound, SourceUnreachable

JSONPATHS_FILE = "log_json_path.json"  # where a source keeps it, next to log_data/ (docs/data-contract.md)

# The largest JSONPaths file read. Redshift's COPY takes "a single JSON object"
# as the JSONPaths file, and 4 MB is the largest JSON object it reads
# (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html,
# "JSONPaths file" and "JSON data file"): the same limit here, far above the
# few hundred bytes that the 18 paths of the events take.
MAX_JSONPATHS_BYTES = 4 * 1024 * 1024

_STEP = re.compile(
    r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]   # ['key']
      | \[\s*"((?:[^"\\]|\\.)*)"\s*\]   # ["key"]
      | \[\s*(\d+)\s*\]                 # [0]
      | \.([A-Za-z_][A-Za-z0-9_]*)      # .key
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class JsonPathsError(Exception):
    """The JSONPaths file is missing, malformed or does not fit the table."""


def parse_path(expression: str):
    """``$['a'][0]`` -> ('a', 0)."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        raise JsonPathsError(f"{expression!r} is not a JSONPath expression (it must start with $)")
    steps = []
    position = 1
    while position < len(expression):
        match = _STEP.match(expression, position)
        if not match:
            raise JsonPathsError(f"cannot read the JSONPath {expression!r} at character {position + 1}")
        single, double, index, dotted = match.groups()
        if index is not None:
            steps.append(int(index))
        elif dotted is not None:
            steps.append(dotted)
        else:  # a quoted key: \' or \" or \\ stands for the character itself
            steps.append(_ESCAPE.sub(r"\1", single if single is not None else double))
        position = match.end()
    if not steps:
        raise JsonPathsError(f"the JSONPath {expression!r} names no element")
    return tuple(steps)


def read_jsonpaths(data, where: str = "log_json_path.json"):
    """The list of paths in a JSONPaths document (bytes or text)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JsonPathsError(f"{where}: not UTF-8 text") from None
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise JsonPathsError(f"{where} line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(document, dict) or not isinstance(document.get("jsonpaths"), list):
        raise JsonPathsError(f'{where}: expected an object {{"jsonpaths": [...]}}')
    try:
        return [parse_path(expression) for expression in document["jsonpaths"]]
    except JsonPathsError as error:
        raise JsonPathsError(f"{where}: {error}") from None


def source_jsonpaths(source, name: str = JSONPATHS_FILE):
    """(paths, where) of the JSONPaths file ``name`` of ``source`` (sources/__init__.py), read as a load
    reads it: a regular file or an S3 object, at most MAX_JSONPATHS_BYTES. JsonPathsError, one line
    naming the file, if it is missing, unreadable or malformed (SourceUnreachable when S3 did not answer)."""
    where = f"{source.label.rstrip('/')}/{name}" if name else source.label
    try:
        data = source.read_bytes(name, MAX_JSONPATHS_BYTES)
    except SourceNotFound:
        raise JsonPathsError(
            f"{where} not found: the source must hold {JSONPATHS_FILE} next to log_data/"
            if name == JSONPATHS_FILE else f"{where} not found: the JSONPaths file of the events must be there"
        ) from None
    except SourceUnreachable:
        raise  # not the file's fault: the network's (exit status 2)
    except SourceError as error:
        raise JsonPathsError(str(error)) from None
    return read_jsonpaths(data, where), where


def extract(value, path):
    """The value at ``path`` in ``value``, or None where it is absent (as COPY loads NULL)."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step, None)
        if value is None:
            return None
    return value
