"""What a request costs our server besides the engine: one client, one keep-alive connection.

    .venv/bin/python bench/overhead.py --build-dir /tmp/b1m

Starts `lod-publisher serve` twice on the build (on 127.0.0.1; the first on the port of
its base IRI or a free one, the second with `--result-cache-mb 0`), then times, in turns,
five requests that differ by one layer each: a document replayed from the response cache
(Granian and the cache only), the service description (the same plus the endpoint's
protocol parsing and negotiation), a one-row SELECT asked again and again (its answer
sent again from the result cache, and the query log), the same on the second server (the
protocol parsing, sealing, the query run in the worker, since an evaluator answered it
quickly), and the same SELECT made new by a comment each time (run in an evaluator
process). Prints the median of each and the differences; stops the servers by their PIDs.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import spawn, stop_process
from tests.conftest import free_port

from lod_publisher.releases import current_release

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2000, help="requests of each kind")
    args = parser.parse_args()
    release = current_release(args.build_dir)
    port = urlsplit(release.base_uri).port or free_port()
    entity = release.base_uri + "id/"
    label = "http://www.w3.org/2000/01/rdf-schema#label"
    select = f'SELECT ?s WHERE {{ ?s <{label}> ?l FILTER(STRSTARTS(STR(?s), "{entity}")) }} LIMIT 1'
    uncached_port = free_port()
    processes = []
    try:
        for at, extra in ((port, []), (uncached_port, ["--result-cache-mb", "0"])):
            command = [str(BIN / "lod-publisher"), "serve", "--build-dir", str(args.build_dir), "--host", "127.0.0.1", "--port", str(at), *extra]  # fmt: skip
            log = Path(f"/tmp/lod-overhead-{at}.log")
            processes.append(
                spawn(command, log, f"http://127.0.0.1:{at}/sparql?query=ASK%7B%7D", 120)
            )
        connections = {
            at: http.client.HTTPConnection("127.0.0.1", at, timeout=30)
            for at in (port, uncached_port)
        }

        def get(path: str, accept: str, at: int = port) -> bytes:
            conn = connections[at]
            conn.request("GET", path, headers={"Accept": accept})
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                raise RuntimeError(f"{path}: HTTP {reply.status} {body[:200]!r}")
            return body

        first = get("/sparql?" + urlencode({"query": select}), "text/tab-separated-values")
        document = first.splitlines()[1].decode().strip("<>")[len(release.base_uri) :]

        def sparql(query: str) -> str:
            return "/sparql?" + urlencode({"query": query})

        numbers = itertools.count()
        json_results = "application/sparql-results+json"
        kinds: dict[str, tuple[Callable[[], str], str, int]] = {
            "document from the response cache": (
                lambda: f"/doc/{document}.ttl",
                "text/turtle",
                port,
            ),
            "service description (endpoint)": (lambda: "/sparql", "text/turtle", port),
            "one-row SELECT, answer kept": (lambda: sparql(select), json_results, port),
            "one-row SELECT, seen (worker)": (lambda: sparql(select), json_results, uncached_port),
            "one-row SELECT, new (evaluator)": (
                lambda: sparql(f"{select}\n# request {next(numbers)}"),
                json_results,
                port,
            ),
        }
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        for path, accept, at in kinds.values():  # warm: cached, evaluators started
            for _ in range(100):
                get(path(), accept, at)
        for _ in range(args.rounds):
            for kind, (path, accept, at) in kinds.items():
                target = path()
                started = time.perf_counter()
                get(target, accept, at)
                samples[kind].append(time.perf_counter() - started)
        previous = None
        for kind, taken in samples.items():
            median = statistics.median(taken) * 1000
            extra = "" if previous is None else f" (+{median - previous:.3f})"
            print(f"{kind:34} median {median:.3f} ms{extra}")
            previous = median
    finally:
        for process in processes:
            stop_process(process)


if __name__ == "__main__":
    main()
