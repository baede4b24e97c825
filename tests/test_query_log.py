"""The query log: lines deferred in server workers keep their order and times, and none is lost."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from lod_publisher.web.query_log import QueryLog, logger


def test_immediate_lines_are_logged_as_they_happen(caplog: pytest.LogCaptureFixture) -> None:
    log = QueryLog()
    with caplog.at_level(logging.INFO, logger=logger.name):
        log.write(200, 1.25, "rows=3 cached=no")
        assert [r.getMessage() for r in caplog.records] == ["sparql status=200 ms=1.2 rows=3 cached=no"]  # fmt: skip


def test_deferred_lines_wait_for_the_flush_and_keep_their_order_and_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = QueryLog()
    log.defer(period=3600)  # only the explicit flush below writes
    with caplog.at_level(logging.INFO, logger=logger.name):
        before = time.time()
        for status in (200, 400, 503):
            log.write(status, 0.5, f"n={status}")
            time.sleep(0.05)
        assert caplog.records == []
        time.sleep(0.2)
        log.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"sparql status={s} ms=0.5 n={s}" for s in (200, 400, 503)]
    times = [r.created for r in caplog.records]
    assert before <= times[0] < times[1] < times[2] < before + 0.19, "the request's time, not the flush's"  # fmt: skip
    assert all(abs(r.msecs - (r.created % 1) * 1000) < 1 for r in caplog.records)


def test_the_flushing_thread_writes_within_its_period(caplog: pytest.LogCaptureFixture) -> None:
    log = QueryLog()
    log.defer(period=0.05)
    with caplog.at_level(logging.INFO, logger=logger.name):
        log.write(200, 0.1, "by the thread")
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [r.getMessage() for r in caplog.records] == ["sparql status=200 ms=0.1 by the thread"]


def test_nothing_is_queued_when_the_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    log = QueryLog()
    log.defer(period=3600)
    with caplog.at_level(logging.WARNING, logger=logger.name):
        log.write(200, 0.1, "not wanted")
        log.flush()
    assert caplog.records == []


def _worker(path: str) -> None:
    """A multiprocessing child like Granian's workers: it ends through os._exit."""
    handler = logging.FileHandler(path)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    log = QueryLog()
    log.defer(period=3600)
    log.write(200, 2.0, "the last line")


def test_lines_still_queued_when_a_worker_process_ends_are_written(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    process = multiprocessing.get_context("fork").Process(target=_worker, args=(str(path),))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert path.read_text() == "sparql status=200 ms=2.0 the last line\n"
