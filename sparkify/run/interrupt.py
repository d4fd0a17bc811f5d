"""Ctrl-C, SIGTERM or SIGHUP during a statement that runs for minutes: cancel it on the server at once.

SIGTERM (timeout, systemd, Docker, Airflow) and SIGHUP (a closed terminal)
end a run as Ctrl-C does: within ``terminate_as_exception()`` they raise
``Terminated`` in the main thread, so every ``finally`` runs (the loader's
worker pool is shut down, the transaction rolled back), and the command
line exits 128 + the signal's number.
"""

import contextlib
import signal
import socket
import threading

import psycopg2
import psycopg2.errors

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


@contextlib.contextmanager
def cancel_on_interrupt(connection):
    """Within the block, Ctrl-C cancels the running statement at once.

    Python runs its SIGINT handler only between bytecodes, so a Ctrl-C during
    a statement that runs for minutes would wait for it to end. The C-level
    handler does write the signal's number to the wakeup fd at once: a thread
    waiting on it asks the server to cancel the statement, and the
    KeyboardInterrupt follows as usual, in the main thread. Outside the main
    thread (no signals there) the block runs as it is.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        reader.close()
        writer.close()
        yield
        return
    interrupted = threading.Event()
    received = []

    def watch():
        while data := reader.recv(64):
            stopping = [number for number in (signal.SIGINT, *TERMINATING) if number in data]
            if stopping:
                received.extend(stopping)
                interrupted.set()
                with contextlib.suppress(Exception):
                    connection.cancel()

    watcher = threading.Thread(target=watch, name="cancel-on-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    except psycopg2.errors.QueryCanceled:
        if interrupted.is_set():
            if received[0] == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise Terminated(received[0]) from None
        raise
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()  # ends the watcher
        watcher.join(timeout=1)
        reader.close()


