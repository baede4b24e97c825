"""The query log: one line per SPARQL request, written without holding up the answer.

Making a log record and writing it to standard error costs more than sending an answer
from the result cache: about 0.1 ms a request on the reference machine when the server
has been idle for a moment (the logging module's code and the write are no longer in the
CPU's caches), against 0.3-0.5 ms for the whole request. A server worker therefore
queues each line's parts (time, status, duration, details) and a thread of its own hands
them to :mod:`logging` in batches, at most ``period`` seconds later and when the worker
exits; each record keeps the time of its request. Anywhere else (Flask's test client,
``--dev``) lines are logged as they happen. Either way they go to the
``lod_publisher.web.sparql`` logger, so logging configuration applies as usual.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from multiprocessing import util as multiprocessing_util

logger = logging.getLogger("lod_publisher.web.sparql")

_FORMAT = "sparql status=%d ms=%.1f %s"
_Line = tuple[float, int, float, str]  # time.time(), status, milliseconds, details


class QueryLog:
    """Where this process's query log lines go: straight to the logger, or deferred."""

    def __init__(self) -> None:
        self._pending: deque[_Line] | None = None
        self._lock = threading.Lock()  # one flush at a time, so lines keep their order

    def write(self, status: int, milliseconds: float, details: str) -> None:
        """Log one query: its status, how long it took, and what else the line says."""
        if not logger.isEnabledFor(logging.INFO):
            return
        if self._pending is None:
            logger.info(_FORMAT, status, milliseconds, details)
        else:  # deque.append is atomic: no lock on the request's path
            self._pending.append((time.time(), status, milliseconds, details))

    def defer(self, period: float = 0.25) -> None:
        """From now on, queue lines and log them every ``period`` seconds and at exit.

        For server worker processes; calling it again changes nothing. Granian's workers
        are :mod:`multiprocessing` processes, which end without running :mod:`atexit`
        handlers but do run multiprocessing's finalizers: the last lines are logged by
        whichever of the two runs.
        """
        with self._lock:
            if self._pending is not None:
                return
            self._pending = deque()
        thread = threading.Thread(target=self._flush_every, args=(period,), daemon=True)
        thread.name = "query-log"
        thread.start()
        atexit.register(self.flush)
        multiprocessing_util.Finalize(self, self.flush, exitpriority=100)

    def flush(self) -> None:
        """Log every queued line now, each with the time of its request."""
        pending = self._pending
        if not pending:
            return
        with self._lock:
            while pending:
                at, status, milliseconds, details = pending.popleft()
                record = logger.makeRecord(
                    logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    _FORMAT,
                    (status, milliseconds, details),
                    None,
                    "write",
                )
                shift = record.created - at
                record.created = at
                record.msecs = int((at - int(at)) * 1000) + 0.0
                record.relativeCreated -= shift * 1000
                logger.handle(record)

    def _flush_every(self, period: float) -> None:
        while True:
            time.sleep(period)
            try:
                self.flush()
            except Exception:  # a broken handler must not end the flushing for good
                logging.getLogger(__name__).exception("writing the query log failed")


query_log = QueryLog()
