#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kds-standin.py: TEST ONLY stand-in for AMD's Key Distribution Service.

Serves files from ROOT over plain HTTP on 127.0.0.1. A request for PATH?QUERY is answered with
the file ROOT/PATH?QUERY (the query is part of the file name, so a test proves the client asked
for exactly the right URL); a request without a query with ROOT/PATH. Anything else is a 404.

  --rate-limit N       answer the first N requests with HTTP 429 (then serve normally)
  --retry-after VALUE  send "Retry-After: VALUE" with each 429 (default: no header)
  --count-file FILE    after each request, write the number of requests seen so far
  --log-file FILE      append one line per request: "<status> <path>"
  --port-file FILE     the port actually bound (use --port 0 for a free one), written when ready
"""
import argparse
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--count-file")
    ap.add_argument("--log-file")
    ap.add_argument("--rate-limit", type=int, default=0)
    ap.add_argument("--retry-after")
    args = ap.parse_args()
    root = os.path.realpath(args.root)
    state = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet: the test reads --log-file instead
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            if args.log_file:
                with open(args.log_file, "a") as f:
                    f.write("%d %s\n" % (status, self.path))

        def do_GET(self):
            state["count"] += 1
            if args.count_file:
                tmp = args.count_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write("%d\n" % state["count"])
                os.replace(tmp, args.count_file)
            if state["count"] <= args.rate_limit:
                hdrs = [("Retry-After", args.retry_after)] if args.retry_after else []
                self.answer(429, b"Too Many Requests\n", hdrs)
                return
            u = urllib.parse.urlsplit(self.path)
            rel = urllib.parse.unquote(u.path).lstrip("/")
            if u.query:
                rel += "?" + u.query
            path = os.path.realpath(os.path.join(root, rel))
            if not path.startswith(root + os.sep) or not os.path.isfile(path):
                self.answer(404, b"Not Found\n")
                return
            with open(path, "rb") as f:
                body = f.read()
            self.answer(200, body, [("Content-Type", "application/octet-stream")])

    srv = HTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
