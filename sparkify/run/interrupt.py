"""Ctrl-C during a statement that runs for minutes: cancel it on the server at once."""

import contextlib
import signal
import socket
import threading

import psycopg2
import psycopg2.errors


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

    def watch():
        while data := reader.recv(64):
            if signal.SIGINT in data:
                interrupted.set()
                with contextlib.suppress(Exception):
                    connection.cancel()

    watcher = threading.Thread(target=watch, name="cancel-on-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    except psycopg2.errors.QueryCanceled:
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()  # ends the watcher
        watcher.join(timeout=1)
        reader.close()


