"""SIGTERM and SIGHUP end a command as Ctrl-C does.

SIGTERM (timeout, systemd, Docker, Airflow) and SIGHUP (a closed terminal)
end a command as Ctrl-C does: within ``terminate_as_exception()`` they raise
``Terminated`` in the main thread, so every ``finally`` runs (the loader's
worker pool is shut down, the transaction rolled back, the embedded server
let go of), and the command line exits 128 + the signal's number
(sparkify/cli.py). A statement running on the server is cancelled at once
(sparkify/engines/cancel.py).
"""

import contextlib
import signal

TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: end the run as KeyboardInterrupt does (a BaseException too)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


@contextlib.contextmanager
def terminate_as_exception():
    """Within the block, SIGTERM and SIGHUP raise Terminated; a second one while cleaning up is ignored."""

    def handler(signum, frame):
        for number in TERMINATING:
            signal.signal(number, signal.SIG_IGN)
        raise Terminated(signum)

    try:
        previous = {number: signal.signal(number, handler) for number in TERMINATING}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for number, action in previous.items():
            signal.signal(number, action)
