"""A closed-loop HTTP/1.1 load client on asyncio (keep-alive connections, one
request in flight per client), run as its own process:

    python load_client.py URL --clients 64 --seconds 60 --body-file F [--content-type T]

Prints one JSON line: counts per status, p50/p99 latency (ms), throughput,
errors (connection failures, malformed responses), and whether any
connection received a response it did not ask for."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.parse


async def one_client(host, port, path, body, content_type, stop_at, stats, headers_extra):
    reader = writer = None
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {len(body)}\r\n{headers_extra}\r\n").encode() + body
    phase = "connect"
    while time.monotonic() < stop_at:
        t_start = time.monotonic()
        try:
            if writer is None:
                phase = "connect"
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            phase = "response"
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 30)
            if not status_line:
                raise ConnectionError("connection closed")
            status = int(status_line.split()[1])
            length, retry_after, close = 0, None, False
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.decode("latin-1").partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    length = int(v)
                elif k == "retry-after":
                    retry_after = v.strip()
                elif k == "connection" and v.strip().lower() == "close":
                    close = True
            await asyncio.wait_for(reader.readexactly(length), 30)
            dt = time.perf_counter() - t0
            stats["status"][status] = stats["status"].get(status, 0) + 1
            if status == 200:
                stats["latencies"].append(dt)
            elif status == 429:
                stats["retry_after_missing"] += retry_after is None
                await asyncio.sleep(0.005)
            if close:
                writer.close()
                writer = None
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, OSError) as e:
            stats["errors"].append(f"{type(e).__name__} in {phase} after {time.monotonic() - t_start:.1f} s, "
                                   f"{stop_at - time.monotonic():.1f} s before the end: {str(e)[:100]}")
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        # Nothing may arrive that was not asked for.
        try:
            extra = await asyncio.wait_for(reader.read(1), 0.05)
            stats["unsolicited"] += len(extra)
        except asyncio.TimeoutError:
            pass
        writer.close()


async def main_async(args):
    u = urllib.parse.urlsplit(args.url)
    body = open(args.body_file, "rb").read()
    stats = {"status": {}, "latencies": [], "errors": [], "retry_after_missing": 0, "unsolicited": 0}
    headers_extra = "".join(f"{h}\r\n" for h in args.header)
    t0 = time.monotonic()
    stop_at = t0 + args.seconds
    await asyncio.gather(*(one_client(u.hostname, u.port, u.path + ("?" + u.query if u.query else ""), body,
                                      args.content_type, stop_at, stats, headers_extra)
                           for _ in range(args.clients)))
    elapsed = time.monotonic() - t0
    lat = sorted(stats["latencies"])

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3) if lat else None

    print(json.dumps({"clients": args.clients, "seconds": round(elapsed, 2),
                      "status": {str(k): v for k, v in sorted(stats["status"].items())},
                      "ok": stats["status"].get(200, 0), "throughput": round(stats["status"].get(200, 0) / elapsed, 1),
                      "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": len(stats["errors"]),
                      "error_samples": stats["errors"][:5], "retry_after_missing": stats["retry_after_missing"],
                      "unsolicited_bytes": stats["unsolicited"]}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--body-file", required=True)
    p.add_argument("--content-type", default="text/plain")
    p.add_argument("--header", action="append", default=[])
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
