"""How much a request costs after the server has been idle: one client, one connection.

    .venv/bin/python bench/idle_gaps.py http://127.0.0.1:8080/sparql
    .venv/bin/python bench/idle_gaps.py http://127.0.0.1:7878/query   # Oxigraph server

Sends the same SPARQL query (a label lookup) again and again, waiting 0, 2, 10, 50, 200
and 1,000 ms before each, and prints the median and 90th percentile latency per wait.
`bench/run.py` lets the systems take turns, so each request it times comes after the
server sat idle while the others answered; on a virtual machine, waking idle CPUs and
threads then costs more than a short query takes to run, on every server alike.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
from urllib.parse import urlencode, urlsplit

QUERY = 'SELECT ?s WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> "people buried"@en }'
WAITS = (0.0, 0.002, 0.01, 0.05, 0.2, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="SPARQL endpoint URL on 127.0.0.1")
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--requests", type=int, default=60, help="per wait (a quarter for waits ≥ 0.2 s)")  # fmt: skip
    args = parser.parse_args()
    url = urlsplit(args.endpoint)
    if url.hostname != "127.0.0.1":
        parser.error("the endpoint must be on 127.0.0.1")
    target = f"{url.path}?{urlencode({'query': args.query})}"
    conn = http.client.HTTPConnection("127.0.0.1", url.port or 80, timeout=30)

    def get() -> None:
        conn.request("GET", target, headers={"Accept": "application/sparql-results+json"})
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise SystemExit(f"HTTP {reply.status}: {body[:200]!r}")

    for _ in range(20):  # warm: connection, caches
        get()
    for wait in WAITS:
        taken = []
        for _ in range(args.requests // 4 if wait >= 0.2 else args.requests):
            time.sleep(wait)
            started = time.perf_counter()
            get()
            taken.append((time.perf_counter() - started) * 1000)
        taken.sort()
        print(
            f"idle {wait * 1000:5.0f} ms before each: median {statistics.median(taken):.3f} ms, "
            f"90th percentile {taken[int(len(taken) * 0.9)]:.3f} ms"
        )


if __name__ == "__main__":
    main()
