"""A local moto S3 server on 127.0.0.1 that waits ``--latency`` seconds before each answer.

    python bench/s3_server.py --latency 0.03      # prints "PORT 12345", serves until killed

moto answers in a few milliseconds; real S3 takes tens. A small WSGI wrapper
sleeps before passing each request to moto, so that the benchmark sees a
round trip like S3's and shows what fetching ahead saves. The server is
moto's ThreadedMotoServer (one thread per request, so the sleeps overlap),
run in a process of its own: its CPU does not compete with the client's for
one interpreter lock.
"""

import argparse
import sys
import threading
import time

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class Latency:
    """WSGI middleware: sleep, then answer."""

    def __init__(self, app, seconds):
        self.app = app
        self.seconds = seconds

    def __call__(self, environ, start_response):
        time.sleep(self.seconds)
        return self.app(environ, start_response)


class SlowMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with the Latency wrapper around its application."""

    def __init__(self, latency, **kwargs):
        super().__init__(**kwargs)
        self.latency = latency

    def _server_entry(self) -> None:
        app = Latency(DomainDispatcherApplication(create_backend_app), self.latency)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every request")
    args = parser.parse_args()
    server = SlowMotoServer(args.latency, ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(f"PORT {server.get_host_and_port()[1]}", flush=True)
    # serve until the parent closes our standard input or kills us
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    threading.current_thread().name = "s3-server"
    main()
