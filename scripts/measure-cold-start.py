#!/usr/bin/env python3
"""Offline cold-start measurement of a Lambda bootstrap.

Plays the Lambda Runtime API on 127.0.0.1 (the same protocol Lambda speaks to a
`provided.al2023` function), starts the bootstrap as a fresh process and times:

  init   = process start -> first `GET /runtime/invocation/next` (what Lambda reports as
           "Init Duration": cold-start work in main: config, SDK clients, HTTP clients)
  first  = event handed over -> response posted (the first invocation, cold caches)
  second = the same event again (warm)

Usage: measure-cold-start.py BOOTSTRAP EVENT_FILE [RUNS]
The environment (WFO_* names, AWS_ENDPOINT_URL of a local moto, fake credentials) is
passed through to the bootstrap. Prints one JSON line per run and a median summary.
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time


def measure(bootstrap, event, timeout=60.0):
    marks = {}
    served = {"n": 0}
    done = threading.Event()

    class Api(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            n = served["n"]
            if n >= 2:
                # No more events: hold the runtime until we stop it.
                done.set()
                time.sleep(timeout)
                return
            if n == 0:
                marks["init"] = time.monotonic()
            served["n"] += 1
            body = event
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:probe")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            marks[f"sent{n}"] = time.monotonic()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            payload = self.rfile.read(length)
            n = len([k for k in marks if k.startswith("resp")])
            marks[f"resp{n}"] = time.monotonic()
            marks[f"body{n}"] = payload.decode("utf-8", "replace")[:300]
            marks[f"kind{n}"] = "error" if "/error" in self.path else "response"
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "probe",
        "AWS_LAMBDA_LOG_GROUP_NAME": "probe",
    })
    start = time.monotonic()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done.wait(timeout)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
    if "resp1" not in marks:
        raise SystemExit(f"{bootstrap}: no second response within {timeout}s: {marks}")
    return {
        "init_ms": round((marks["init"] - start) * 1000, 1),
        "first_ms": round((marks["resp0"] - marks["sent0"]) * 1000, 1),
        "second_ms": round((marks["resp1"] - marks["sent1"]) * 1000, 1),
        "first": marks["kind0"],
        "body": marks["body0"],
    }


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    bootstrap, event_file = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with open(event_file, "rb") as f:
        event = f.read()
    results = []
    for _ in range(runs):
        r = measure(bootstrap, event)
        print(json.dumps(r))
        results.append(r)
    summary = {k: statistics.median(r[k] for r in results) for k in ("init_ms", "first_ms", "second_ms")}
    summary["bootstrap"] = os.path.basename(os.path.dirname(bootstrap)) or bootstrap
    summary["runs"] = runs
    print("median " + json.dumps(summary))


if __name__ == "__main__":
    main()
