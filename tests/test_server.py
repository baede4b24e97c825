"""The production server: a new build is served after SIGHUP, without a restart."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.conftest import (
    assert_clean_log,
    fetch,
    free_port,
    project_settings,
    start_server,
    stop_server,
)

from lod_publisher.build import build


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
        deadline = time.monotonic() + 60
        after = before
        while time.monotonic() < deadline:
            after = fetch(document, {"Accept": "text/turtle"})
            if after.header("etag") != before.header("etag"):
                break
            time.sleep(0.5)
        assert after.status == 200
        assert after.header("etag") != before.header("etag"), "still the old build after SIGHUP"
        void = fetch(f"http://127.0.0.1:{port}/.well-known/void", {"Accept": "text/turtle"})
        assert second.build_id.encode() in void.body
        assert process.poll() is None
    finally:
        log = stop_server(process)
    assert_clean_log(log)
