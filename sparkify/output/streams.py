"""Output that never decides whether the work gets done: a closed pipe, a lost terminal, a full disk.

``etl.py | head -1`` closes the pipe after one line; ``etl.py --quiet >>
log 2>&1`` on a full disk cannot write a byte; a terminal closed over an
ssh session is gone. A print() that raises there would abandon a load that
was about to commit. Inside ``guarded_output()``, standard output and
standard error are ``GuardedStream``s: the first write that fails is kept
(``lost``), that stream says nothing more, and the work goes on. The
command then says, if it still can, what was lost, and ends with a status
that is true to what it did (sparkify/cli.py: OUTPUT_LOST).
"""

import contextlib
import io
import os
import sys


class GuardedStream:
    """A text stream whose first failure to write is kept, not raised; it writes nothing after it."""

    def __init__(self, stream, name):
        self.stream = stream
        self.name = name  # "standard output": what a message calls it
        self.lost = None if stream is not None else OSError("it is closed")  # python >&- : sys.stdout is None

    def write(self, text):
        if self.lost is None:
            try:
                return self.stream.write(text)
            except (OSError, ValueError) as error:  # ValueError: a file closed under us
                self._lose(error)
        return len(text)

    def flush(self):
        if self.lost is None:
            try:
                self.stream.flush()
            except (OSError, ValueError) as error:
                self._lose(error)

    def isatty(self):
        if self.lost is not None:
            return False
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name):  # encoding, fileno, errors...: the stream's own
        return getattr(self.stream, name)

    def _lose(self, error):
        """Keep ``error``; point the stream's descriptor at /dev/null, so that what its buffer still holds,
        which the interpreter flushes at exit, goes nowhere instead of failing again (exit status 120)."""
        self.lost = error
        with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            descriptor = self.stream.fileno()
            nothing = os.open(os.devnull, os.O_WRONLY)
            os.dup2(nothing, descriptor)
            os.close(nothing)

    def describe(self) -> str:
        """What was lost, for a person: ``standard output (Broken pipe)``."""
        reason = getattr(self.lost, "strerror", None) or str(self.lost)
        return f"{self.name} ({reason})"


class GuardedOutput:
    """Both streams of a command, guarded; ``lost`` names the ones that failed."""

    def __init__(self, stdout, stderr):
        self.stdout = GuardedStream(stdout, "standard output")
        self.stderr = GuardedStream(stderr, "standard error")

    @property
    def lost(self) -> list[GuardedStream]:
        return [stream for stream in (self.stdout, self.stderr) if stream.lost is not None]

    def say(self, line: str) -> None:
        """One line on standard error, if it can still take one."""
        print(line, file=self.stderr, flush=True)


@contextlib.contextmanager
def guarded_output():
    """sys.stdout and sys.stderr guarded for the block (every print, tqdm's bar, a warning); restored after."""
    output = GuardedOutput(sys.stdout, sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = output.stdout, output.stderr
    try:
        yield output
    finally:
        sys.stdout, sys.stderr = saved


def print_lines(lines, stream=None) -> None:
    """Print ``lines`` to ``stream`` (standard error), or nothing if it cannot take them: never an error."""
    guarded = GuardedStream(stream if stream is not None else sys.stderr, "standard error")
    print("\n".join(lines), file=guarded, flush=True)


# ---------------------------------------------------------------------------
# A result's output (query.py): the output is the work, so losing it stops it
# ---------------------------------------------------------------------------


class OutputLost(Exception):
    """Standard output could not be written (a closed pipe, a full or failing disk): the command stops there.

    query.py's output is its work: ``query.py ... | head -1`` has nothing
    left to do once head has gone. It stops reading the result, commits
    nothing, says so in one line on standard error and ends with OUTPUT_LOST
    (sparkify/cli.py), the status etl.py gives an output it could not write.
    """

    def __init__(self, error: BaseException):
        self.reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        super().__init__(f"standard output ({self.reason}) could not be written")


class Output:
    """Standard output as query.py writes it: text in, bytes out (UTF-8 to a file or a pipe whatever the
    locale, the terminal's encoding to a terminal), a failed write raised as OutputLost. ``binary`` is for
    bytes that go out as they come (the server's CSV): write them inside ``guarded()``."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdout
        if self.stream is None:  # started with standard output closed (>&-)
            raise OutputLost(OSError("it is closed"))
        self.terminal = self.stream.isatty()
        self.encoding = (self.stream.encoding or "utf-8") if self.terminal else "utf-8"
        self.binary = getattr(self.stream, "buffer", None)

    def write(self, text: str) -> None:
        with self.guarded():
            if self.binary is None:
                self.stream.write(text)
            else:
                self.binary.write(text.encode(self.encoding, "backslashreplace"))

    def flush(self) -> None:
        with self.guarded():
            self.stream.flush()
            if self.binary is not None:
                self.binary.flush()

    @contextlib.contextmanager
    def guarded(self):
        """A block whose failed writes to the stream (``binary`` included) raise OutputLost; the stream's
        descriptor then points at /dev/null, so that what its buffer still holds, which the interpreter flushes
        at exit, goes nowhere instead of failing again."""
        try:
            yield
        except (OSError, ValueError) as error:  # ValueError: the stream was closed under us
            GuardedStream(self.stream, "standard output")._lose(error)
            raise OutputLost(error) from None
