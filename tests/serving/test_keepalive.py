"""One keep-alive connection, requests one after another (what a benchmark client or a
connection pool does): every request is answered on that connection. Regression test: the
disconnect watch once blocked the connection's strand in a peek after a wake-up with nothing
to read, and the answer was never written (the client hung after some tens of requests)."""

from __future__ import annotations

import json
import socket
import time


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the keep-alive connection"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next(int(l.split(b":", 1)[1]) for l in lines[1:] if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return status, body[:length]


def test_sequential_requests_on_one_connection_are_all_answered(server):
    port = server.ready["inference_port"]
    deadline = time.time() + 60
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for i in range(300):
            body = f"sentence number {i} is fine".encode()
            sock.sendall(b"POST /predictions/classifier HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            try:
                status, answer = read_response(sock)
            except socket.timeout:
                raise AssertionError(f"request {i} on the keep-alive connection was not answered in 10 s")
            assert status == 200, (i, answer[:200])
            assert "label" in json.dumps(json.loads(answer))
            assert time.time() < deadline, f"only {i + 1} requests answered in 60 s"
    assert server.alive()
