"""A pass-through in front of `cargo lambda watch`'s Lambda Runtime API, so awslambdaric can use it.

Why: cargo-lambda (1.9.2) answers `GET /2018-06-01/runtime/invocation/next` without a
`Content-Type` header. Real Lambda always sends one, and awslambdaric's native client (aws-lambda-cpp)
then fails to read the invocation and the process dies with SIGSEGV (seen with awslambdaric 3.0.2,
3.1.1 and 4.2.2). This shim forwards every request unchanged to one function's runtime API on
cargo-lambda (`/.rt/<function>/...`) and adds `Content-Type: application/json` to a `/next` answer
that has none. It also lets AWS_LAMBDA_RUNTIME_API be a plain `host:port`: awslambdaric reports init
errors with `http.client`, which cannot take a path in that variable.

Run both sides of a benchmark through it, so they see the same hop. Standard library only.

    python3 bench/rt_shim.py --listen 127.0.0.1:9102 --upstream 127.0.0.1:9101 --function _
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9102 python -m awslambdaric handler.lambda_handler

It prints `listening on 127.0.0.1:PORT` once bound (`--listen 127.0.0.1:0` picks a free port) and,
with `--log-first-next`, `first-next <epoch seconds>` when the first `/next` arrives (an init-time
probe). `--linger-response 2` keeps the connection that carried a function's response open for 2 s
(needed in front of the local loop's runtime proxy: see `forward`). It notes on stderr when it drops
a poll or answers 502. SIGINT/SIGTERM stop it.
"""

import argparse
import http.client
import http.server
import select
import signal
import socket
import sys
import threading
import time

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization"}


def note(message):
    """Something a benchmark should know about (a dropped poll, an upstream error), on stderr."""
    print(f"rt_shim {time.time():.3f}: {message}", file=sys.stderr, flush=True)


def make_handler(upstream, prefix, log_first_next, linger_s=0.0):
    first_next = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out as two writes (headers, then body): with Nagle's algorithm on, the body
        # waits for the runtime's delayed ACK (40 ms on Linux) on every /next and every response.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet: one line per request would distort timings
            pass

        def forward(self):
            if not self.path.startswith("/2018-06-01/"):
                self.send_error(404, "only the Lambda Runtime API is forwarded")
                return
            if self.path.endswith("/invocation/next") and log_first_next and not first_next.is_set():
                first_next.set()
                print(f"first-next {time.time():.6f}", flush=True)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            conn = http.client.HTTPConnection(upstream)  # no timeout: /next is a long poll
            answer = {}

            def call_upstream():
                try:
                    conn.request(self.command, prefix + self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    answer["resp"], answer["data"] = resp, resp.read()
                except (OSError, http.client.HTTPException) as e:
                    answer["error"] = e

            worker = threading.Thread(target=call_upstream, daemon=True)
            worker.start()
            # While /next waits, watch the runtime's connection: when the runtime process dies, drop
            # the upstream poll too, or cargo-lambda would hand the next invocation to this dead poll.
            while worker.is_alive():
                worker.join(0.05)
                if worker.is_alive() and self.client_gone():
                    note(f"{self.command} {self.path}: the runtime closed its connection; upstream call dropped")
                    try:
                        conn.sock and conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    conn.close()
                    self.close_connection = True
                    return
            if linger_s > 0 and self.path.endswith(("/response", "/error")):
                # cargo-lambda answers a function's response before it has read its body: it hands the
                # unread body to the waiting invoke call. Behind the local loop's runtime proxy,
                # closing this connection at once could cut that body off (the invoker then reads
                # "error reading a body from connection", and an event source mapping hands the
                # whole batch back although it ran), so close it only once the body has surely been read.
                threading.Timer(linger_s, conn.close).start()
            else:
                conn.close()
            if "error" in answer:
                note(f"{self.command} {self.path}: upstream error {answer['error']!r}; answered 502")
                self.send_error(502, f"upstream runtime API: {answer['error']}")
                return
            resp, data = answer["resp"], answer["data"]
            self.send_response(resp.status)
            names = set()
            for k, v in resp.getheaders():
                if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                    continue
                names.add(k.lower())
                self.send_header(k, v)
            if self.path.endswith("/invocation/next") and "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def client_gone(self):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        do_GET = do_POST = forward

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port to listen on (port 0: any free)")
    parser.add_argument("--upstream", required=True, help="cargo lambda watch's host:port")
    parser.add_argument("--function", default="_", help="function name on cargo lambda watch (default _)")
    parser.add_argument("--log-first-next", action="store_true", help="print when the first /next arrives")
    parser.add_argument("--linger-response", type=float, default=0.0, metavar="SECONDS",
                        help="keep the upstream connection of a /response or /error open this long after "
                             "cargo-lambda's answer (the local loop's runtime proxy needs it; default 0)")
    args = parser.parse_args()

    host, port = args.listen.rsplit(":", 1)
    prefix = f"/.rt/{args.function}" if args.function != "_" else "/.rt"
    server = http.server.ThreadingHTTPServer((host, int(port)),
                                             make_handler(args.upstream, prefix, args.log_first_next,
                                                          args.linger_response))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on {host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
