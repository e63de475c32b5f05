"""10,000 idle keep-alive connections held at once (asyncio clients in this
process; the server is its own process): each connection makes a request,
then idles; meanwhile new clients are still answered; at the end every idle
connection still answers on the same socket. Memory per connection printed."""

from __future__ import annotations

import asyncio
import re
import resource
import time

import requests

import server_util

N = 10_000


async def ping(reader, writer):
    writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 30)
    length = 0
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await asyncio.wait_for(reader.readexactly(length), 30)
    return int(status.split()[1])


def rss(server) -> int:
    text = requests.get(server.metrics + "/metrics?name[]=optimum_process_resident_memory_bytes", timeout=10).text
    return int(re.search(r"optimum_process_resident_memory_bytes (\d+)", text).group(1))


def test_ten_thousand_idle_keep_alive_connections(store, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, N + 1000)), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= N + 100, "this machine's descriptor limit is too low"
    with server_util.ServerProcess(tmp_path, store, models=["classifier=classifier"]) as s:
        port = s.ready["inference_port"]
        before = rss(s)

        async def run():
            conns = []
            t0 = time.monotonic()
            for start in range(0, N, 500):
                opened = await asyncio.gather(*(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
                                                for _ in range(min(500, N - start))))
                statuses = await asyncio.gather(*(ping(r, w) for r, w in opened))
                assert set(statuses) == {200}
                conns += opened
            opened_s = time.monotonic() - t0
            # All idle now. A new client is answered while they are held.
            t1 = time.monotonic()
            r = await asyncio.to_thread(requests.post, s.inference + "/predictions/classifier", data="hello",
                                        timeout=30)
            assert r.status_code == 200, r.text
            answer_s = time.monotonic() - t1
            held = rss(s)
            await asyncio.sleep(2)
            # Every idle connection is still open and answers on the same socket.
            statuses = []
            for start in range(0, N, 1000):
                statuses += await asyncio.gather(*(ping(r, w) for r, w in conns[start:start + 1000]))
            assert statuses == [200] * N
            for _, w in conns:
                w.close()
            return opened_s, answer_s, held

        opened_s, answer_s, held = asyncio.run(run())
        per_conn = (held - before) / N
        server_util.SUMMARY.append(f"{N} keep-alive connections opened in {opened_s:.1f} s; a new request answered in "
              f"{answer_s * 1000:.1f} ms while they were held; server memory {before / 2**20:.1f} -> "
              f"{held / 2**20:.1f} MiB ({per_conn / 1024:.1f} KiB per connection)")
        assert s.alive()
