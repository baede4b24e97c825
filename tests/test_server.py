"""The production server: a new build is served after SIGHUP, without a restart; its logs."""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from tests.conftest import (
    assert_clean_log,
    fetch,
    free_port,
    open_files,
    project_settings,
    start_server,
    stop_server,
)

from lod_publisher.build import build
from lod_publisher.releases import Release
from lod_publisher.settings import Settings


def test_sighup_serves_the_new_build(tmp_path: Path) -> None:
    port = free_port()
    settings = project_settings(tmp_path / "build", port)
    first = build(settings)
    process = start_server(settings)
    try:
        document = f"http://127.0.0.1:{port}/doc/id/place/belgrade.ttl"
        before = fetch(document, {"Accept": "text/turtle"})
        assert before.status == 200
        second = build(settings)
        assert second.build_id != first.build_id
        # Until told, the workers keep serving (and replaying) the release they opened.
        assert fetch(document, {"Accept": "text/turtle"}).header("etag") == before.header("etag")
        process.send_signal(signal.SIGHUP)
        # Workers restart one at a time: wait until 20 requests in a row see the new build.
        void_url = f"http://127.0.0.1:{port}/.well-known/void"
        in_a_row, deadline = 0, time.monotonic() + 60
        while in_a_row < 20 and time.monotonic() < deadline:
            void = fetch(void_url, {"Accept": "text/turtle"})
            fresh = void.status == 200 and second.build_id.encode() in void.body
            in_a_row = in_a_row + 1 if fresh else 0
            if not fresh:
                time.sleep(0.5)
        assert in_a_row == 20, "the workers did not all switch to the new build after SIGHUP"
        after = fetch(document, {"Accept": "text/turtle"})
        assert after.status == 200
        assert after.header("etag") != before.header("etag"), "a replayed document of the old build"
        # A query never asked goes to the server's evaluator, which switches to the new store.
        query = urlencode({"query": "ASK { ?s ?p ?o } # after SIGHUP"})
        answer = fetch(f"http://127.0.0.1:{port}/sparql?{query}", {"Accept": "*/*"})
        assert answer.status == 200 and b"true" in answer.body
        assert answer.header("content-type").startswith("application/sparql-results+json")
        stores = open_stores(process.pid)  # the old one closed, the new one open if read yet
        assert stores <= {second.store_path.resolve()}, stores
        assert process.poll() is None
    finally:
        log = stop_server(process)
    assert_clean_log(log)


def open_stores(server: int) -> set[Path]:
    """The stores the evaluator processes of ``server`` (its children) hold open."""
    stores = set()
    for child in Path(f"/proc/{server}/task/{server}/children").read_text().split():
        if b"lod_publisher.store.sandbox" not in Path(f"/proc/{child}/cmdline").read_bytes():
            continue
        stores |= {path.parent for path in open_files(int(child)) if path.name.endswith(".sst")}
    return stores


@pytest.mark.parametrize("access_log", [None, "yes"])
def test_the_access_log_is_a_setting_and_queries_are_logged_either_way(
    settings: Settings, release: Release, access_log: str | None
) -> None:
    port = free_port()
    process = start_server(
        dataclasses.replace(settings, port=port),
        *(("--access-log", access_log) if access_log else ()),
        log=settings.build_dir / f"access-{port}.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert fetch(f"{base}/doc/id/place/belgrade.ttl", {"Accept": "text/turtle"}).status == 200
        assert fetch(f"{base}/sparql?query=ASK%7B%7D", {"Accept": "text/csv"}).status == 200
        # The worker's query log thread writes the line soon, while the server runs.
        log_path: Path = process.log_path  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while "format=csv" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "sparql status=200" in log_path.read_text()
    finally:
        log = stop_server(process)
    assert_clean_log(log)
    assert "sparql status=200" in log and "format=csv" in log
    assert ("/doc/id/place/belgrade.ttl" in log) == (access_log == "yes"), log[-2000:]
