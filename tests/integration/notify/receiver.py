#!/usr/bin/env python3
"""A referrer's webhook for tests/integration/test_notify.sh.

Usage: receiver.py DIR SECRET BEARER

Listens on 127.0.0.1, an ephemeral port written to DIR/port. Each request
is logged as one JSON line in DIR/log: method, path, the caretide headers,
whether the HMAC signature (key SECRET) or the bearer token (BEARER)
checked out, the status answered and the body. DIR/mode decides the
answer: a number N > 0 answers 503 and counts down, "fail" answers 500
every time, "status:CODE" answers CODE every time, "after:S" answers 429
with Retry-After: S once (then 200), anything else (or no file) 200.
"""
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

DIR, SECRET, BEARER = sys.argv[1], sys.argv[2].encode(), sys.argv[3]


def answer():
    """The status to answer and the Retry-After header (or None)."""
    path = os.path.join(DIR, "mode")
    try:
        with open(path) as f:
            mode = f.read().strip()
    except FileNotFoundError:
        return 200, None
    if mode == "fail":
        return 500, None
    if mode.startswith("status:"):
        return int(mode[7:]), None
    if mode.startswith("after:"):
        os.remove(path)
        return 429, mode[6:]
    if mode.isdigit() and int(mode) > 0:
        with open(path + ".tmp", "w") as f:
            f.write(str(int(mode) - 1))
        os.replace(path + ".tmp", path)
        return 503, None
    return 200, None


def signature_ok(header, body):
    if not header:
        return None
    parts = dict(p.split("=", 1) for p in header.split(","))
    mac = hmac.new(SECRET, parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts.get("sha256", ""))


class Hook(BaseHTTPRequestHandler):
    def handle_one(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, after = answer()
        auth = self.headers.get("Authorization")
        entry = {
            "method": self.command,
            "path": self.path,
            "type": self.headers.get("Content-Type"),
            "key": self.headers.get("Idempotency-Key"),
            "event": self.headers.get("X-Caretide-Event"),
            "attempt": self.headers.get("X-Caretide-Attempt"),
            "signed": signature_ok(self.headers.get("X-Caretide-Signature"),
                                   body),
            "bearer": None if auth is None else auth == "Bearer " + BEARER,
            "status": status,
            "body": json.loads(body) if body else None,
        }
        with open(os.path.join(DIR, "log"), "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        if after is not None:
            self.send_header("Retry-After", after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = handle_one
    do_POST = handle_one

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Hook)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.replace(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
server.serve_forever()
