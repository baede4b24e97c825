"""Time and memory of rendering the largest pages of a build, in one fresh process.

    .venv/bin/python bench/hub_page.py --build-dir /tmp/b1m id/concept/people-buried id/place/serbia

Prints, per page, its status, size and render time (Flask's test client, nothing cached),
then the process's peak RSS before and after: what one server worker pays for a hub.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from lod_publisher.settings import load_settings
from lod_publisher.web import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("paths", nargs="+", help="entity paths under the base, e.g. id/place/x")
    args = parser.parse_args()
    client = create_app(load_settings({"build_dir": args.build_dir}, environ={})).test_client()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    for path in args.paths:
        started = time.perf_counter()
        reply = client.get(f"/doc/{path}.html")
        seconds = time.perf_counter() - started
        print(f"{path}: {reply.status_code}, {len(reply.data) // 1024} KiB, {seconds:.1f} s")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak RSS: {before} MiB after start-up, {after} MiB after rendering")


if __name__ == "__main__":
    main()
