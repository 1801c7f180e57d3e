"""An OTLP/HTTP endpoint that accepts and counts trace exports without keeping them, for
measuring what tracing costs the gateway (docs/benchmarks.md, "Tracing").
   python3 loadtests/otlp_sink.py PORT   # then OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT
Prints "exports N bytes B" to stdout on every 100th export and at SIGTERM."""

import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

totals = {"exports": 0, "bytes": 0}


def report(*_):
    print(f"exports {totals['exports']} bytes {totals['bytes']}", flush=True)


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        totals["exports"] += 1
        totals["bytes"] += len(body)
        if totals["exports"] % 100 == 0:
            report()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    signal.signal(signal.SIGTERM, lambda *_: (report(), sys.exit(0)))
    server.serve_forever()


if __name__ == "__main__":
    main()
