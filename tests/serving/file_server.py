"""A real Python http.server for the registration-by-URL tests, run as a
subprocess: `python file_server.py DIR READY_FILE [REDIRECT_ORIGIN]`.

Serves DIR on an ephemeral 127.0.0.1 port, writes {"port": N} to READY_FILE
when listening and logs one line per request to stderr. With
REDIRECT_ORIGIN (e.g. http://127.0.0.1:1234), GET /redirect/NAME answers
302 to REDIRECT_ORIGIN/NAME (another origin) and GET /same/NAME answers 302
to /NAME (the same origin). GET /loop/NAME redirects to itself forever."""

from __future__ import annotations

import functools
import http.server
import json
import os
import sys


def main() -> None:
    folder, ready = sys.argv[1], sys.argv[2]
    redirect_origin = sys.argv[3] if len(sys.argv) > 3 else ""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path.startswith("/loop/"):  # redirects to itself forever
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            for prefix, target in (("/redirect/", redirect_origin + "/"), ("/same/", "/")):
                if self.path.startswith(prefix) and (redirect_origin or prefix == "/same/"):
                    self.send_response(302)
                    self.send_header("Location", target + self.path[len(prefix):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            super().do_GET()

        def log_message(self, fmt, *args):
            sys.stderr.write("request %s\n" % (fmt % args))
            sys.stderr.flush()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": server.server_address[1]}, f)
    os.replace(tmp, ready)
    server.serve_forever()


if __name__ == "__main__":
    main()
