"""`make bench`: the Rust function against its Python peer, side by side, end to end (issue 5).

Both sides run as real processes under the same Lambda Runtime API (`cargo lambda watch
--only-lambda-apis --ignore-changes`), each behind its own `rt_shim.py` so both pay the same hop,
against the Service Catalog emulator and moto's SQS. The Rust function is function
`sc-action-runner` on cargo-lambda, the peer is `_`, so both stay up at once and their runs are
interleaved (Rust, peer, Rust, peer, ...): load on this shared machine hits both alike. Every
figure is a median over repeats. Nothing here asserts a timing: the targets are printed, with
whether they hold, and written to bench/results.md.

SQS calls go through a counting proxy in front of moto (this process), which counts each call by
its `X-Amz-Target` (JSON protocol) or `Action` (query protocol) and the messages it carries.

Run from the repository root with the bench venv (`make bench` does all of this):

    .venv-bench/bin/python bench/run_bench.py --rust target/release/sc-action-runner \
        --emulator target/release/sc-emulator --zip target/lambda/sc-action-runner/bootstrap.zip

Then the fleet scenario (issue 14): `sc-fleet-bench` (local-loop/src/bin) runs 1,000 products
through the local SQS event source mapping against an emulator that rate-limits Execute, once per
scenario (the Rust function with its token bucket, with adaptive retries, without the bucket, and
the peer), and this driver turns its JSON figures into the second table of bench/results.md.
`--fleet only` runs just that and keeps the first table of the committed results.md;
`--fleet off` skips it and keeps the committed fleet table.

Every process it starts is stopped on exit, on failure and on Ctrl-C.
"""

import argparse
import collections
import datetime
import http.client
import http.server
import json
import math
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
LATENCY_MS = 50
MOTO_ACCOUNT = "123456789012"
PRODUCTS = ["pp-webprod000001", "pp-webstag000001"]
ACTION = "act-restart00001"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped in `stop_all`, whatever happens.

STARTED = []


def start(cmd, log_path, env=None, cwd=ROOT, stdout=None):
    """Starts a process in its own process group (so its children stop with it)."""
    err = open(log_path, "ab")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=stdout if stdout is not None else err, stderr=err,
                            start_new_session=True)
    STARTED.append(proc)
    return proc


def stop(proc, timeout=5.0):
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_all():
    for proc in reversed(STARTED):
        stop(proc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f} s")


def read_line(proc, prefix, what, timeout=30.0):
    """The first stdout line of `proc` that starts with `prefix` (a reader thread keeps draining)."""
    lines = queue.Queue()

    def pump():
        for raw in proc.stdout:
            lines.put(raw.decode(errors="replace").strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    end = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"{what}: no '{prefix}' line within {timeout:.0f} s") from None
        if line is None:
            raise RuntimeError(f"{what} exited before printing '{prefix}'")
        if line.startswith(prefix):
            return line, lines


# --------------------------------------------------------------------------------------------------
# The counting proxy in front of moto.

class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = {}
        self.messages = 0
        self.batches = collections.deque(maxlen=10)  # the last SendMessageBatch requests (headers, body)

    def add(self, op, messages, headers=None, body=None):
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            self.messages += messages
            if op == "SendMessageBatch" and body is not None:
                self.batches.append((headers, body))

    def take(self):
        with self.lock:
            calls, messages = dict(self.calls), self.messages
            self.calls, self.messages = {}, 0
            return calls, messages


def sqs_operation(headers, path, body):
    """(operation, messages carried) of one SQS request, JSON or query protocol."""
    target = headers.get("X-Amz-Target")
    if target:
        op = target.rsplit(".", 1)[-1]
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        n = len(doc.get("Entries") or []) if op == "SendMessageBatch" else int(op == "SendMessage")
        return op, n
    form = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    form.update(urllib.parse.parse_qs((body or b"").decode(errors="replace")))
    op = (form.get("Action") or ["?"])[0]
    if op == "SendMessageBatch":
        n = sum(1 for k in form if k.endswith(".Id") and "Entry" in k)
    else:
        n = int(op == "SendMessage")
    return op, n


def start_counting_proxy(upstream_port, counter):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle on, the second waits for the client's
        # delayed ACK (40 ms on Linux) and every call through the proxy would pay it.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            op, n = sqs_operation(self.headers, self.path, body)
            counter.add(op, n, {k: v for k, v in self.headers.items() if k.lower() != "host"}, body)
            conn = getattr(self, "upstream", None)
            if conn is None:
                conn = self.upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()  # one retry on a fresh connection (moto closed an idle one)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as e:  # moto gone (e.g. shutting down)
                    conn.close()
                    self.send_error(502, f"moto: {e}")
                    return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------------------------------
# Small HTTP helpers.

def http_call(port, method, path, body=None, headers=None, timeout=600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=data, headers=headers or {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def sqs_json(port, op, payload):
    status, data = http_call(port, "POST", "/", json.dumps(payload).encode(), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    if status != 200:
        raise RuntimeError(f"SQS {op}: HTTP {status}: {data[:300]!r}")
    return json.loads(data or b"{}")


def sqs_batch(n):
    """An SQS event of n records, fresh message ids (so tokens and executions are new)."""
    records = []
    for i in range(n):
        body = {"provisionedProductId": PRODUCTS[i % 2], "serviceActionId": ACTION}
        records.append({
            "messageId": str(uuid.uuid4()), "receiptHandle": "AQEBbench", "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764150000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764150000500"},
            "messageAttributes": {}, "md5OfBody": "0" * 32, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sc-action-requests", "awsRegion": "us-east-1",
        })
    return {"Records": records}


def send_batches(port, requests):
    """Seconds for the given SendMessageBatch requests (headers, body), sent all at once."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in requests]
    for c in conns:
        c.connect()
    go, errors = threading.Barrier(len(requests) + 1), []

    def one(conn, headers, body):
        go.wait()
        try:
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(resp.status)
        except (OSError, http.client.HTTPException) as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(c, h, b)) for c, (h, b) in zip(conns, requests)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    if errors:
        raise RuntimeError(f"SendMessageBatch against moto failed: {errors[:3]}")
    return elapsed


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


# --------------------------------------------------------------------------------------------------
# The two sides.

class Side:
    def __init__(self, name, label, function, cmd, cwd, env, watch_port, work):
        self.name, self.label, self.function = name, label, function
        self.cmd, self.cwd, self.env = cmd, cwd, env
        self.watch_port, self.work = watch_port, work
        self.proc = self.shim = None

    def start_shim(self):
        shim = start([sys.executable, os.path.join(ROOT, "bench", "rt_shim.py"), "--listen", "127.0.0.1:0",
                      "--upstream", f"127.0.0.1:{self.watch_port}", "--function", self.function,
                      "--log-first-next"], os.path.join(self.work, f"shim-{self.name}.log"), stdout=subprocess.PIPE)
        line, lines = read_line(shim, "listening on", f"rt_shim ({self.name})")
        return shim, int(line.rsplit(":", 1)[1]), lines

    def launch(self):
        """Starts a shim and the function; returns seconds from process start to its first /next."""
        self.shim, shim_port, lines = self.start_shim()
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{shim_port}")
        t0 = time.time()
        self.proc = start(self.cmd, os.path.join(self.work, f"{self.name}.log"), env=env, cwd=self.cwd)
        end = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=0.05)
                break
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.label} exited with {self.proc.returncode} before its first /next "
                                       f"(see {self.work}/{self.name}.log)") from None
                if time.monotonic() > end:
                    raise RuntimeError(f"{self.label}: no /next within 60 s (see {self.work}/{self.name}.log)") from None
        if line is None or not line.startswith("first-next "):
            raise RuntimeError(f"{self.label}: unexpected shim output {line!r}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.label} exited with {self.proc.returncode} at init")
        return float(line.split()[1]) - t0

    def shut(self):
        # The function first (the shim then drops its upstream /next poll), then its shim.
        for p in (self.proc, self.shim):
            if p is not None:
                stop(p)
        self.proc = self.shim = None

    def invoke(self, event):
        """(wall seconds, answer) of one invocation through cargo-lambda's invoke API."""
        t0 = time.perf_counter()
        status, data = http_call(self.watch_port, "POST", f"/2015-03-31/functions/{self.function}/invocations",
                                 event)
        wall = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"{self.label}: invoke answered HTTP {status}: {data[:300]!r}")
        answer = json.loads(data)
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"{self.label}: records handed back: {answer['batchItemFailures'][:3]}")
        return wall, answer


# --------------------------------------------------------------------------------------------------

def show_ops(ops):
    return ", ".join(f"{v} {k}" for k, v in sorted(ops.items()))


def fmt_ms(s):
    return f"{s * 1000:.0f} ms" if s >= 0.1 else f"{s * 1000:.1f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--rust", default="target/release/sc-action-runner")
    ap.add_argument("--emulator", default="target/release/sc-emulator")
    ap.add_argument("--zip", default="target/lambda/sc-action-runner/bootstrap.zip")
    ap.add_argument("--moto", default=".venv/bin/moto_server")
    ap.add_argument("--cargo-lambda", default=".venv/bin/cargo-lambda")
    ap.add_argument("--python-peer", default=".venv-bench/bin/python")
    ap.add_argument("--max-concurrency", type=int, default=10,
                    help="MAX_CONCURRENCY for the Rust side (10 is its default) and the floor")
    ap.add_argument("--cold-starts", type=int, default=7)
    ap.add_argument("--repeats-10", type=int, default=7)
    ap.add_argument("--repeats-100", type=int, default=3)
    ap.add_argument("--cpu-batches", type=int, default=20)
    ap.add_argument("--out", default="bench/results.md")
    ap.add_argument("--work", default="target/bench")
    ap.add_argument("--note", default="", help="a line added under the table (e.g. what was changed)")
    ap.add_argument("--fleet", choices=("on", "off", "only"), default="on",
                    help="the fleet scenario: after the other figures (on), not at all (off; the committed "
                         "fleet table stays), or alone (only; the committed first table stays)")
    ap.add_argument("--fleet-bench", default="target/release/sc-fleet-bench")
    ap.add_argument("--fleet-scenarios", default=",".join(FLEET_SCENARIOS),
                    help="comma-separated, run in this order, each in a fresh local loop")
    ap.add_argument("--fleet-arg", action="append", default=[],
                    help="passed to sc-fleet-bench (repeat it; e.g. --fleet-arg=--products --fleet-arg=200)")
    ap.add_argument("--fleet-note", default="", help="a line added under the fleet table")
    ap.add_argument("--fleet-moto", choices=("patched", "installed"), default="patched",
                    help="moto for the fleet scenario: bench/moto_server.py (default) or moto_server as installed")
    args = ap.parse_args()
    os.chdir(ROOT)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):
        if name.endswith(".log"):
            os.remove(os.path.join(work, name))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a driver started in the background inherits it ignored, and Ctrl-C must still clean up.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        main_text = run(args, work) if args.fleet != "only" else None
        fleet_text = run_fleet(args, work) if args.fleet != "off" else None
        write_results(args.out, main_text, fleet_text)
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        return 130
    finally:
        stop_all()


def run(args, work):
    for path in (args.rust, args.emulator, args.moto, args.cargo_lambda, args.python_peer):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"missing {path}: run `make bench` (it builds and installs everything)")
    load_before = os.getloadavg()

    # 1. moto SQS, the counting proxy in front of it, the Service Catalog emulator, the Runtime API.
    moto_port = free_port()
    moto = start([args.moto, "-H", "127.0.0.1", "-p", str(moto_port)], os.path.join(work, "moto.log"))
    wait_for_port(moto_port, moto, "moto_server")
    counter = Counter()
    proxy = start_counting_proxy(moto_port, counter)
    proxy_port = proxy.server_address[1]
    queue_url = sqs_json(moto_port, "CreateQueue", {"QueueName": "bench-results"})["QueueUrl"]

    emu = start([args.emulator, "--port", "0", "--quiet", "--progress-ms", "2000"],
                os.path.join(work, "emulator.log"), stdout=subprocess.PIPE)
    line, _ = read_line(emu, "listening on http://", "sc-emulator")
    emu_url = line.split()[-1]
    emu_port = int(emu_url.rsplit(":", 1)[1])

    watch_port = free_port()
    watch = start([args.cargo_lambda, "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
                   "-A", "127.0.0.1", "-P", str(watch_port)], os.path.join(work, "watch.log"))
    wait_for_port(watch_port, watch, "cargo lambda watch")

    base_env = {
        "PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{proxy_port}",
        "AWS_ENDPOINT_URL_SERVICE_CATALOG": emu_url,
        "RESULTS_QUEUE_URL": queue_url,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    }
    rust = Side("rust", "Rust", "sc-action-runner", [os.path.abspath(args.rust)], ROOT,
                dict(base_env, AWS_LAMBDA_FUNCTION_NAME="sc-action-runner",
                     MAX_CONCURRENCY=str(args.max_concurrency)), watch_port, work)
    peer = Side("peer", "Python peer", "_",
                [os.path.abspath(args.python_peer), "-m", "awslambdaric", "handler.lambda_handler"],
                os.path.join(ROOT, "bench", "baseline"),
                dict(base_env, AWS_LAMBDA_FUNCTION_NAME="_"), watch_port, work)
    sides = (rust, peer)

    # 2. Init: process start to the first /next, alternating sides; one unmeasured start each first
    #    (it warms the page cache and, for Python, writes the .pyc files).
    init = {s.name: [] for s in sides}
    for i in range(args.cold_starts + 1):
        for s in sides:
            t = s.launch()
            s.shut()
            if i > 0:
                init[s.name].append(t)
    log("init (s):", {k: [round(x, 4) for x in v] for k, v in init.items()})

    # 3. One long-lived process per side for the batches; one small warm-up invocation each.
    for s in sides:
        s.launch()
        s.invoke(sqs_batch(1))

    # Every measured invocation starts from an empty results queue and a reset emulator, set up
    # outside the timing: moto's SendMessageBatch gets slower as its queue fills (sending 100 results
    # took 0.15, 0.39, 0.53, 0.72 s over four 100-record batches in a row; 0.12-0.19 s each with the
    # queue recreated), which would penalise whichever side runs later.
    def fresh(latency_ms=0):
        sqs_json(moto_port, "DeleteQueue", {"QueueUrl": queue_url})
        sqs_json(moto_port, "CreateQueue", {"QueueName": "bench-results"})
        http_call(emu_port, "POST", "/_emulator/reset")
        if latency_ms:
            status, _ = http_call(emu_port, "POST", "/_emulator/faults",
                                  {"operation": "*", "kind": "latency", "latencyMs": latency_ms})
            if status >= 300:
                raise RuntimeError(f"emulator refused the latency fault: HTTP {status}")

    # 4. Results-queue calls per batch (no added latency).
    calls, rust_batches = {}, []
    for s in sides:
        for n in (10, 100):
            fresh()
            counter.take()
            s.invoke(sqs_batch(n))
            ops, messages = counter.take()
            if messages != n:
                raise RuntimeError(f"{s.label}: {messages} results sent for {n} records ({ops})")
            calls[(s.name, n)] = ops
            if s is rust and n == 100:
                rust_batches = list(counter.batches)
    log("calls:", calls)

    # 5. Wall time with 50 ms added to every Service Catalog call, interleaved.
    wall = {}
    for n, repeats in ((10, args.repeats_10), (100, args.repeats_100)):
        for _ in range(repeats):
            for s in sides:
                fresh(LATENCY_MS)
                wall.setdefault((s.name, n), []).append(s.invoke(sqs_batch(n))[0])
    log("wall (s):", {k: [round(x, 4) for x in v] for k, v in wall.items()})

    # The floor's results-queue term: the function's own SendMessageBatch requests of a 100-record
    # batch (captured by the proxy), ⌈N/10⌉ of them replayed at once through the same proxy to a fresh
    # queue (median of 9). For N = 10 that is one round trip; for N = 100, ten concurrent ones, which
    # moto (Python) largely serves one after the other: that is this environment's floor.
    if len(rust_batches) != 10:
        raise RuntimeError(f"expected 10 captured SendMessageBatch requests, got {len(rust_batches)}")
    send_time = {}
    for n in (10, 100):
        samples = []
        for _ in range(9):
            fresh()
            samples.append(send_batches(proxy_port, rust_batches[:math.ceil(n / 10)]))
        send_time[n] = statistics.median(samples)
    rtt = send_time[10]
    # An empty batch: what the invoke path itself (cargo-lambda, shim, runtime client) costs each side.
    empty = {s.name: statistics.median([s.invoke({"Records": []})[0] for _ in range(5)]) for s in sides}

    # 6. CPU per 1,000 records and peak RSS, no added latency; batches interleaved, each side's own
    #    process CPU (utime + stime) summed over its batches.
    cpu = {s.name: 0.0 for s in sides}
    for _ in range(args.cpu_batches):
        for s in sides:
            fresh()
            before = proc_cpu_seconds(s.proc.pid)
            s.invoke(sqs_batch(100))
            cpu[s.name] += proc_cpu_seconds(s.proc.pid) - before
    records = args.cpu_batches * 100
    cpu_per_1000 = {k: v / records * 1000 for k, v in cpu.items()}
    rss = {s.name: proc_status_kb(s.proc.pid, "VmHWM") for s in sides}
    for s in sides:
        s.shut()
    load_after = os.getloadavg()

    # 7. The artifact.
    zip_size, zip_arch = None, None
    if os.path.exists(args.zip):
        zip_size = os.path.getsize(args.zip)
        with zipfile.ZipFile(args.zip) as z:
            head = z.open("bootstrap").read(20)
        zip_arch = {183: "arm64", 62: "x86_64"}.get(int.from_bytes(head[18:20], "little"), "unknown")

    # 8. The table.
    med = {k: statistics.median(v) for k, v in wall.items()}
    floor = {n: math.ceil(n / args.max_concurrency) * LATENCY_MS / 1000 + send_time[n] for n in (10, 100)}
    strict = {n: math.ceil(n / args.max_concurrency) * LATENCY_MS / 1000 + rtt for n in (10, 100)}

    def ratio(a, b):
        return a / b if b else float("inf")

    rows = []

    def row(figure, r, p, rat, target, holds):
        rows.append((figure, r, p, rat, target, "yes" if holds else "**no**"))

    r_init, p_init = statistics.median(init["rust"]), statistics.median(init["peer"])
    row(f"init: process start → first `/next` (median of {args.cold_starts} cold starts)",
        fmt_ms(r_init), fmt_ms(p_init), f"{ratio(r_init, p_init):.3f}×", "≤ 0.1×", ratio(r_init, p_init) <= 0.1)
    for n, target, repeats in ((10, 0.12, args.repeats_10), (100, 0.05, args.repeats_100)):
        r, p = med[("rust", n)], med[("peer", n)]
        row(f"{n}-record SQS batch, +{LATENCY_MS} ms per Service Catalog call (median of {repeats})",
            fmt_ms(r), fmt_ms(p), f"{ratio(r, p):.3f}×", f"≤ {target}×", ratio(r, p) <= target)
        row(f"{n}-record batch against the floor {fmt_ms(floor[n])} (⌈{n}/{args.max_concurrency}⌉·{LATENCY_MS} ms "
            f"+ {fmt_ms(send_time[n])} for {math.ceil(n / 10)} concurrent SendMessageBatch to moto)",
            f"{ratio(r, floor[n]):.2f}× floor", f"{ratio(p, floor[n]):.1f}× floor", "", "≤ 1.2× floor",
            ratio(r, floor[n]) <= 1.2)
    rc, pc = cpu_per_1000["rust"], cpu_per_1000["peer"]
    row(f"CPU s per 1,000 records, no added latency ({records} records, utime+stime)",
        f"{rc:.3f} s", f"{pc:.3f} s", f"{ratio(rc, pc):.3f}×", "≤ 0.1×", ratio(rc, pc) <= 0.1)
    rr, pr = rss["rust"] / 1024, rss["peer"] / 1024
    row("peak RSS (VmHWM, after all batches)", f"{rr:.1f} MB", f"{pr:.1f} MB", f"{ratio(rr, pr):.3f}×",
        "≤ 0.3× and < 32 MB", ratio(rr, pr) <= 0.3 and rr < 32)
    for n in (10, 100):
        r_ops, p_ops = calls[("rust", n)], calls[("peer", n)]
        want = math.ceil(n / 10)
        row(f"results-queue calls for a {n}-record batch", show_ops(r_ops), show_ops(p_ops),
            f"{ratio(sum(r_ops.values()), sum(p_ops.values())):.2f}×", f"{want} SendMessageBatch",
            r_ops == {"SendMessageBatch": want})
    if zip_size is not None:
        row(f"zipped `bootstrap` ({zip_arch}, `cargo lambda build --release --output-format zip`)",
            f"{zip_size / 1e6:.2f} MB", "—", "", "≤ 6 MB", zip_size <= 6e6)
    else:
        row("zipped `bootstrap`", "not built", "—", "", "≤ 6 MB", False)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src", "Cargo.toml"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# `make bench`: the Rust function against the Python peer",
        "",
        f"Run {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} on `{platform.machine()}`, "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / {load_after[0]:.1f} after "
        f"(a shared machine: read ratios, not absolute times), commit `{commit}`"
        + (" with uncommitted changes in src/ or Cargo.toml" if dirty else "") + ".",
        "Both sides: real processes under `cargo lambda watch --only-lambda-apis`, each behind `bench/rt_shim.py`, "
        "against `sc-emulator` and moto SQS (through a counting proxy), interleaved run by run; figures are "
        "medians. Rust: `" + args.rust + f"` (release profile), MAX_CONCURRENCY {args.max_concurrency}. Peer: "
        "`bench/baseline/handler.py` under awslambdaric.",
        "",
        "| Figure | Rust | Python peer | Rust / peer | Target | Holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += [
        "",
        f"Invoke-path overhead (an empty batch, median of 5): Rust {fmt_ms(empty['rust'])}, "
        f"peer {fmt_ms(empty['peer'])}. "
        f"Samples (s): init Rust {[round(x, 4) for x in init['rust']]}, peer {[round(x, 4) for x in init['peer']]}; "
        f"100-record wall Rust {[round(x, 3) for x in wall[('rust', 100)]]}, "
        f"peer {[round(x, 3) for x in wall[('peer', 100)]]}. One SendMessageBatch round trip to moto: "
        f"{fmt_ms(rtt)}; against the stricter floor ⌈N/{args.max_concurrency}⌉·{LATENCY_MS} ms + that one round trip "
        f"({fmt_ms(strict[100])} for 100 records) Rust is at "
        f"{ratio(med[('rust', 100)], strict[100]):.2f}× for 100 records.",
        "",
        f"The floor bounds the ratio to the peer: at MAX_CONCURRENCY {args.max_concurrency} even a function "
        f"that reached it would be at {ratio(floor[10], med[('peer', 10)]):.3f}× (10 records) and "
        f"{ratio(floor[100], med[('peer', 100)]):.3f}× (100 records) of this peer.",
    ]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# The fleet scenario (issue 14): sc-fleet-bench runs it and prints one JSON object per scenario.

FLEET_SCENARIOS = ("rust", "peer", "rust-adaptive", "rust-unpaced", "rust-unpaced-adaptive")
FLEET_HEADING = "## Fleet scenario"
FLEET_TARGET_MAKESPAN = 1.15
FLEET_TARGET_THROTTLED = 0.05


def run_fleet(args, work):
    for path in (args.fleet_bench, args.rust, args.python_peer, args.moto, args.cargo_lambda):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"missing {path}: run `make bench` (it builds and installs everything)")
    scenarios = [s for s in args.fleet_scenarios.split(",") if s]
    cmd = [os.path.abspath(args.fleet_bench), "--project", ROOT, "--function", os.path.abspath(args.rust),
           "--peer-python", os.path.abspath(args.python_peer), "--shim-python", sys.executable]
    for scenario in scenarios:
        cmd += ["--scenario", scenario]
    cmd += ["--logs", work] + args.fleet_arg
    load_before = os.getloadavg()
    log("fleet:", " ".join(cmd))
    t0 = time.monotonic()
    # Progress lines (stderr) go straight through; figures come on stdout, one JSON object a line.
    # The local loop finds moto_server and cargo-lambda on PATH; moto_server is bench/moto_server.py
    # (moto with its clock read made cheap, see there) unless --fleet-moto installed.
    tools = [os.path.dirname(os.path.abspath(p)) for p in (args.moto, args.cargo_lambda)]
    if args.fleet_moto == "patched":
        wrapper_dir = os.path.join(work, "bin")
        os.makedirs(wrapper_dir, exist_ok=True)
        wrapper = os.path.join(wrapper_dir, "moto_server")
        python = os.path.join(os.path.dirname(os.path.abspath(args.moto)), "python")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec "{python}" "{os.path.join(ROOT, "bench", "moto_server.py")}" "$@"\n')
        os.chmod(wrapper, 0o755)
        tools.insert(0, wrapper_dir)
    env = dict(os.environ, PATH=os.pathsep.join(tools + [os.environ.get("PATH", "")]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            start_new_session=True)
    STARTED.append(proc)
    figures = {}
    raw = []
    for line in proc.stdout:
        text = line.decode(errors="replace").strip()
        if text.startswith("{"):
            f = json.loads(text)
            figures[f["scenario"]] = f
            raw.append(text)
    if proc.wait() != 0:
        raise RuntimeError(f"sc-fleet-bench exited with {proc.returncode}")
    wall = time.monotonic() - t0
    load_after = os.getloadavg()
    with open(os.path.join(work, "fleet.json"), "w") as f:
        f.write("\n".join(raw) + "\n")
    return fleet_table(args, figures, scenarios, wall, load_before, load_after)


def fleet_table(args, figures, scenarios, wall, load_before, load_after):
    columns = [s for s in scenarios if s in figures]
    labels = {
        "rust": "Rust, bucket",
        "rust-adaptive": "Rust, bucket, adaptive",
        "rust-unpaced": "Rust, no bucket",
        "rust-unpaced-adaptive": "Rust, no bucket, adaptive",
        "peer": "Python peer",
    }
    any_f = figures[columns[0]]
    ideal = any_f["idealSeconds"]
    peer = figures.get("peer")

    def cell(f, what):
        return what(f) if f is not None else "—"

    def secs(x):
        return "—" if x is None else f"{x:.1f} s"

    def once(f):
        odd = f["productsNotExecutedExactlyOnce"]
        never = sum(1 for n in odd.values() if n == 0)
        twice = len(odd) - never
        text = f"{f['productsExecutedExactlyOnce']:,} of {f['products']:,}"
        return text if not odd else f"{text} ({never} never, {twice} more than once)"

    rows = []

    def row(figure, what, target="", holds=None):
        cells = [cell(figures.get(c), what) for c in columns]
        verdict = "" if holds is None else ("yes" if holds else "**no**")
        rows.append([figure] + cells + [target, verdict])

    rust = figures.get("rust")
    row("makespan: first request → last result published", lambda f: secs(f["makespanSeconds"]))
    row(f"… against the ideal {ideal:.0f} s ({any_f['products']:,} / {any_f['rate']:g} calls/s)",
        lambda f: "—" if f["makespanOverIdeal"] is None else f"{f['makespanOverIdeal']:.2f}×",
        f"≤ {FLEET_TARGET_MAKESPAN}×",
        None if rust is None else
        rust["makespanOverIdeal"] is not None and rust["makespanOverIdeal"] <= FLEET_TARGET_MAKESPAN)
    if peer is not None:
        row("… against the peer, same run",
            lambda f: "—" if f["makespanSeconds"] is None or not peer["makespanSeconds"]
            else f"{f['makespanSeconds'] / peer['makespanSeconds']:.2f}×")
    row("Execute calls made", lambda f: f"{f['executeCalls']:,}")
    row("… throttled (ThrottlingException), share of Execute calls",
        lambda f: f"{f['throttled']:,} ({100 * f['throttledShare']:.1f}%)",
        f"≤ {100 * FLEET_TARGET_THROTTLED:.0f}%",
        None if rust is None else rust["throttledShare"] <= FLEET_TARGET_THROTTLED)
    row("products executed exactly once (emulator, per product)", once, "all",
        None if rust is None else not rust["productsNotExecutedExactlyOnce"])
    row("products without an EXECUTED result / requests in the DLQ",
        lambda f: f"{f['productsWithoutExecutedResult']} / {f['dlqMessages']}")
    row("first Execute call after the first request", lambda f: secs(f["firstExecuteSeconds"]))
    row("last Execute call → last result", lambda f: "—" if f["lastExecuteSeconds"] is None
        or f["makespanSeconds"] is None else secs(f["makespanSeconds"] - f["lastExecuteSeconds"]))
    row("Execute calls arriving in the busiest second", lambda f: f"{f['busiestSecondExecuteCalls']}")
    row("invocations / records handed back / invocations timed out",
        lambda f: f"{f['esm']['invocations']} / {f['esm']['handedBack']} / {f['esm']['timedOut']}")
    row("other Service Catalog calls",
        lambda f: ", ".join(f"{n} {op.replace('ProvisionedProducts', 'PP')}"
                            for op, n in sorted(f["callsByOperation"].items())
                            if op != "ExecuteProvisionedProductServiceAction") or "none")

    a = any_f
    lines = [
        f"{FLEET_HEADING}: {a['products']:,} products, Execute limited to {a['rate']:g} calls/s",
        "",
        f"Run {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}, load average "
        f"{load_before[0]:.1f} before / {load_after[0]:.1f} after; the {len(columns)} scenarios took "
        f"{wall / 60:.1f} min in all (each in a fresh local loop: moto, the emulator, cargo-lambda).",
        f"`sc-fleet-bench` (local-loop/src/bin): the emulator's seed plus a generated fleet of {a['products']:,} "
        f"products, Execute rate-limited to {a['rate']:g} calls/s (token bucket, burst {a['rate']:g}, "
        f"`ThrottlingException` beyond), +{a['latencyMs']} ms on every Service Catalog call; the local SQS "
        f"event source mapping (`sc_local_loop::EventSourceMapping`): batches of {a['batchSize']}, "
        f"at most {a['concurrency']} invocations at once served by {a['concurrency']} execution environments, "
        f"visibility timeout {a['visibilityTimeoutSeconds']} s, function timeout "
        f"{a['functionTimeoutSeconds']} s, maxReceiveCount {a['maxReceiveCount']}. "
        f"Rust: one fleet request (`select` by tag, the children back through the same requests queue), "
        f"MAX_CONCURRENCY {args_max_concurrency(figures)}, "
        f"SC_MAX_CALLS_PER_SECOND = {a['rate']:g} / {a['concurrency']} = {a['rate'] / a['concurrency']:g} "
        f"(not set in the \"no bucket\" columns), AWS_RETRY_MODE=adaptive in the \"adaptive\" ones, no TRACKING_QUEUE_URL, "
        f"NAME_CACHE_SECONDS and RETRY_BACKOFF_* at their defaults. Peer: {a['products']:,} single requests "
        f"enqueued at once (it has no fleet support).",
        "",
        "| Figure | " + " | ".join(labels.get(c, c) for c in columns) + " | Target (Rust, bucket) | Holds |",
        "| --- | " + " | ".join("---" for _ in columns) + " | --- | --- |",
    ]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    if args.fleet_note:
        lines += ["", args.fleet_note]
    return "\n".join(lines) + "\n"


def args_max_concurrency(figures):
    for f in figures.values():
        for setting in f.get("env", []):
            if setting.startswith("MAX_CONCURRENCY="):
                return setting.split("=", 1)[1]
    return "?"


def write_results(path, main_text, fleet_text):
    """bench/results.md: the first table, then the fleet table; a part not run now is kept as committed."""
    old_main, old_fleet = "", ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        cut = old.find("\n" + FLEET_HEADING)
        old_main, old_fleet = (old, "") if cut < 0 else (old[:cut + 1], old[cut + 1:])
    main_text = main_text if main_text is not None else old_main
    fleet_text = fleet_text if fleet_text is not None else old_fleet
    text = main_text.rstrip("\n") + "\n" + ("\n" + fleet_text.rstrip("\n") + "\n" if fleet_text else "")
    with open(path, "w") as f:
        f.write(text)
    print(text)
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
