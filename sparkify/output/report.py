"""What the scripts print while they work: progress, and plain text tables.

On a terminal, a tqdm progress bar and a live line per transform statement;
in a log (CI, cron, a pipe), plain lines that read well afterwards; with
``--quiet``, only what ``always()`` prints: the target, the summary, errors.
"""

import datetime
import decimal
import sys
import time
import unicodedata

from tqdm import tqdm

from sparkify.output.printable import printable


class Reporter:
    def __init__(self, quiet=False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stdout

    def line(self, text=""):
        """A line that --quiet suppresses."""
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def always(self, text=""):
        print(text, file=self.stream, flush=True)

    def step_started(self, step):
        """A step starts: on a terminal, a live line that its end replaces."""
        if not self.quiet and self.stream.isatty():
            print(f"{step.name}...", end="\r", file=self.stream, flush=True)

    def step_done(self, step):
        """A step ended: one line, which a log keeps (step_line)."""
        if self.quiet:
            return
        end = "\x1b[K" if self.stream.isatty() else ""
        print(f"{step_line(step)}{end}", file=self.stream, flush=True)

    def progress(self, description):
        """A progress object with tqdm's ``total``/``update()``/``close()``."""
        if self.quiet:
            return _Silent()
        if self.stream.isatty():
            return tqdm(
                total=0, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                file=self.stream, leave=False, dynamic_ncols=True,
            )
        return PlainProgress(description, self.stream)


def step_line(step) -> str:
    """A step in one line: ``songplay_table: 14 plays added, 0.01 s``, ``staging_events: 3,000 rows staged
    from 30 files, 0.05 s``, ``vacuum (dead rows reclaimed), 0.00 s``."""
    what = step.action if step.rows is None else f"{step.rows:,} {step.action}"
    if step.files is not None:
        what += f" from {step.files:,} file{'' if step.files == 1 else 's'}"
    if step.rejected:
        what += f", {step.rejected:,} rejected"
    return f"{step.table + ': ' if step.table else ''}{what}, {step.seconds:.2f} s"


class _Silent:
    total = 0

    def update(self, n=1):
        pass

    def close(self):
        pass


class PlainProgress:
    """Progress as a few log lines: one each ``every`` seconds at most, and, once it has printed one, a last
    one when the work ends (a short load prints none: the summary says what it read)."""

    def __init__(self, description, stream, every=10.0):
        self.description = description
        self.stream = stream
        self.every = every
        self.total = 0
        self.done = 0
        self._last = time.monotonic()
        self._printed = False
        self._closed = False

    def update(self, n=1):
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._print()

    def close(self):
        if self._printed and not self._closed:
            self._print()
        self._closed = True

    def _print(self):
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        print(f"{self.description}: {_size(self.done)} of {_size(self.total)} read{share}",
              file=self.stream, flush=True)
        self._printed = True


def _size(count):
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


def table(rows, headers, align=None) -> str:
    """A plain text table, the one every script prints (the summary, the checks, query.py's results).

    A cell shows NULL blank, a number with thousands separators, a boolean as
    true or false, a character that would act on a terminal (a line break, ESC, a bidirectional
    isolate) escaped as query.py escapes it. A column of numbers is right-aligned,
    unless ``align`` (one "<" or ">" per column) says otherwise.
    """
    cells = [[cell_text(value) for value in row] for row in rows]
    headers = [printable(header) for header in headers]
    widths = column_widths([headers, *cells])
    align = align or [">" if _numbers(rows, i) else "<" for i in range(len(headers))]
    return "\n".join([aligned(headers, align, widths), rule(widths)] + [aligned(row, align, widths) for row in cells])


def column_widths(lines, widths=()) -> list[int]:
    """Each column's width: its widest cell in ``lines`` (or ``widths``' own, if wider), as a terminal shows it."""
    widths = list(widths)
    for line in lines:
        cells = [width(cell) for cell in line]
        widths = [max(a, b) for a, b in zip(widths, cells)] if widths else cells
    return widths


def aligned(cells, align, widths) -> str:
    """One line of a table: each cell padded to its column's width ("<" or ">"), two spaces apart."""
    padded = [cell + " " * (w - width(cell)) if a == "<" else " " * (w - width(cell)) + cell
              for cell, a, w in zip(cells, align, widths)]
    return "  ".join(padded).rstrip()


def rule(widths) -> str:
    return "  ".join("-" * w for w in widths)


def width(text: str) -> int:
    """How many columns ``text`` takes on a terminal: a wide (East Asian) character two, a combining one none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(character) else 2 if unicodedata.east_asian_width(character) in "WF"
               else 1 for character in text)


def _numbers(rows, column) -> bool:
    values = [row[column] for row in rows if row[column] is not None]
    return bool(values) and all(is_number(value) for value in values)


def is_number(value) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def cell_text(value) -> str:
    """A value as a table shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return f"{value:,}"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return printable(value)
