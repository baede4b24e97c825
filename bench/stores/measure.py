"""Load times and query latencies of the embedded store, Oxigraph server and Virtuoso 7.

Builds the project (or takes ``--build-dir`` with a published build), loads it into
both servers (started on 127.0.0.1 by tests/stores.py, stopped by PID at the end),
then runs each query ``--repeat`` times per backend and prints medians and p90s.

    tests/install_stores.sh
    .venv/bin/python bench/stores/measure.py --repeat 50
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from tests.stores import oxigraph_command, start_oxigraph, start_virtuoso  # noqa: E402

from lod_publisher import queries  # noqa: E402
from lod_publisher.build import build  # noqa: E402
from lod_publisher.formats import by_key  # noqa: E402
from lod_publisher.releases import Release, current_release  # noqa: E402
from lod_publisher.settings import load_settings  # noqa: E402
from lod_publisher.store.backend import Backend  # noqa: E402
from lod_publisher.store.embedded import EmbeddedBackend  # noqa: E402
from lod_publisher.store.loading import load, write_layout  # noqa: E402
from lod_publisher.store.remote import RemoteBackend  # noqa: E402
from lod_publisher.uris import UriPolicy  # noqa: E402


def workload(p: UriPolicy) -> dict[str, Callable[[Backend], object]]:
    """What a page view or a SPARQL user asks, by name."""
    astana = p.entity("place", "astana")
    srj = by_key("srj")
    return {
        "ask-known": lambda b: b.ask(queries.is_known(astana)),
        "describe-entity": lambda b: b.construct(queries.describe(astana)),
        "statement-excerpts": lambda b: b.select(queries.statement_excerpts(p, astana)),
        "entities-per-class": lambda b: b.select(queries.entities_per_class(p)),
        "triple-count": lambda b: b.select(queries.triple_count()),
        "labels-of-all": lambda b: b.select(queries.labels_of_all()),
        "whole-merge-construct": lambda b: b.construct(queries.union_graph()),
        "execute-srj-graphs": lambda b: b.execute(queries.provenance_by_graph(p), srj),
    }


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, help="a build dir with a published build")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lod-bench-stores-"))
    if args.build_dir:
        release: Release = current_release(args.build_dir)
    else:
        settings = load_settings({"source_dir": PROJECT, "build_dir": work / "build"}, environ={})
        took = timed(lambda: build(settings))
        release = current_release(settings.build_dir)
        print(f"build: {took:.2f} s")
    m = release.manifest
    print(
        f"build {release.build_id}: {m['triples']} triples, {m['quads']} quads, {m['graphs']} graphs"
    )

    # Oxigraph: offline bulk load of the layout file, then serve read-only
    layout = work / "layout.nq"
    t_layout = timed(lambda: write_layout(release, layout))
    command = [oxigraph_command(), "load", "--location", str(work / "ox-db"), "--file", str(layout)]
    t_bulk = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    oxigraph = start_oxigraph(work / "ox-db", read_only=True)
    # Oxigraph over HTTP: our loader into `oxigraph serve`
    writable = start_oxigraph(work / "ox-rw", read_only=False)
    t_ox_http = timed(lambda: load(release, writable.store_url))
    t_ox_again = timed(lambda: load(release, writable.store_url))
    writable.stop()
    # Virtuoso: our loader over HTTP (Graph Store Protocol, Digest)
    started = time.perf_counter()
    virtuoso = start_virtuoso(work / "virtuoso")
    t_vt_start = time.perf_counter() - started
    t_vt_http = timed(lambda: load(release, virtuoso.store_url, credentials=virtuoso.credentials))
    t_vt_again = timed(lambda: load(release, virtuoso.store_url, credentials=virtuoso.credentials))
    print(f"oxigraph: write layout.nq {t_layout:.2f} s, `oxigraph load` {t_bulk:.2f} s; "
          f"HTTP loader {t_ox_http:.2f} s (reload {t_ox_again:.2f} s)")  # fmt: skip
    print(f"virtuoso: start (fresh db) {t_vt_start:.2f} s; HTTP loader {t_vt_http:.2f} s "
          f"(reload {t_vt_again:.2f} s)")  # fmt: skip

    policy = UriPolicy(release.base_uri)
    backends: dict[str, Backend] = {
        "embedded": EmbeddedBackend.open(release.store_path),
        "oxigraph": RemoteBackend(oxigraph.query_url, release.base_uri),
        "virtuoso": RemoteBackend(virtuoso.query_url, release.base_uri),
    }
    try:
        print(f"\nlatency in ms over {args.repeat} runs (median / p90), after one warm-up run")
        print(f"{'query':24}" + "".join(f"{name:>20}" for name in backends))
        for name, run in workload(policy).items():
            cells = []
            for backend in backends.values():
                run(backend)  # warm-up: caches, probes, the manifest read
                samples = sorted(timed(lambda b=backend, r=run: r(b)) for _ in range(args.repeat))  # type: ignore[misc]
                p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
                cells.append(f"{statistics.median(samples) * 1000:9.2f} / {p90 * 1000:7.2f}")
            print(f"{name:24}" + "".join(f"{c:>20}" for c in cells))
    finally:
        oxigraph.stop()
        virtuoso.stop()


if __name__ == "__main__":
    main()
