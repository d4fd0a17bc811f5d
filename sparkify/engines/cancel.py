"""Ctrl-C, SIGTERM or SIGHUP during a statement that runs for minutes: cancel it on the server at once."""

import contextlib
import signal
import socket
import threading

from sparkify.engines.errors import QueryCancelled
from sparkify.run.interrupt import TERMINATING, Terminated


@contextlib.contextmanager
def cancel_on_interrupt(cancel):
    """Within the block, Ctrl-C cancels the running statement at once.

    Python runs its SIGINT handler only between bytecodes, so a Ctrl-C during
    a statement that runs for minutes would wait for it to end. The C-level
    handler does write the signal's number to the wakeup fd at once: a thread
    waiting on it asks the server to cancel the statement, and the
    KeyboardInterrupt follows as usual, in the main thread. ``cancel()`` asks
    the server (the engine's ``cancel``). Outside the main thread (no signals
    there) the block runs as it is.
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
                    cancel()

    watcher = threading.Thread(target=watch, name="cancel-on-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    except QueryCancelled:
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
