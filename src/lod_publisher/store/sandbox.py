"""Users' SPARQL queries evaluated in processes that end at the query's deadline.

pyoxigraph 0.5 has no query timeout, and a query under way cannot be interrupted from
Python: an aggregate over a cartesian product yields nothing until it is done. So users'
queries run in evaluator processes, started once and reused (no process is started per
query). An evaluator opens the store read-only, runs
:func:`lod_publisher.store.execution.execute` (sealed, rows capped) and sends back the
bytes pyoxigraph serialized. Before each query it sets an alarm for the query's deadline,
whose signal ends the process wherever the evaluation is; the server answers
:class:`QueryTimeout` at the deadline, and a replacement starts.

One :class:`EvaluatorPool` serves all the server's worker processes: it lives in the
server's main process (in the app's own process under ``--dev`` or a test client) and
listens on a Unix socket in a private folder. A worker connects for each query, and an
idle evaluator accepts the connection. Every process that opens the store keeps its own
RocksDB caches (40-90 MB each at 1M triples), so sharing the evaluators keeps their
count at what the queries running at once need, not a multiple of the workers.

An evaluator also runs with a cap on its address space (``query_memory``) and, where the
kernel lets it (Linux, as root or with unprivileged user namespaces), in a network
namespace of its own with no interface up: even a SERVICE clause that got past
:mod:`lod_publisher.sealing` could not open a connection.

The trip to an evaluator costs about 0.3 ms, more than a lookup takes to run. So a query
an evaluator has answered quickly (``quick_seconds``) and in little memory
(``QUICK_MEMORY``) runs in the worker process the next times it is asked: the store is
read-only and a build never changes, so the same query does the same work each time, and
the deadline it would be held to is one it was seen to keep. A query never seen, or seen
to be slow, always goes to an evaluator.

Run as ``python -m lod_publisher.store.sandbox LISTENER STORE MEMORY_MIB ROLE IDLE`` by
:class:`EvaluatorPool` only; it speaks length-prefixed pickles on the connections it
accepts, and tells the pool on its standard output that it is ready.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import logging
import os
import pickle
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyoxigraph as ox

from lod_publisher import sealing
from lod_publisher.errors import QueryError
from lod_publisher.formats import Format, by_key
from lod_publisher.lru import BoundedLru
from lod_publisher.sealing import QueryRefusedError
from lod_publisher.store.backend import (
    NO_LIMITS,
    PUBLISHED_DATASET,
    Backend,
    DatasetSpec,
    EngineError,
    QueryLimits,
    QueryResult,
    QueryTimeout,
    Solution,
)
from lod_publisher.store.execution import execute

if TYPE_CHECKING:  # evaluators import this module: keep rdflib out of them
    from rdflib import Graph

logger = logging.getLogger(__name__)

# Where a server's main process tells its workers the address of its EvaluatorPool.
POOL_ADDRESS_ENV = "LOD_PUBLISHER_EVALUATOR_POOL"
_HEADER = struct.Struct(">Q")  # the length of the pickle that follows
STARTUP_SECONDS = 60.0  # how long a new evaluator may take to open the store
RETRY_SECONDS = 5.0  # how long the pool waits before starting again an evaluator that failed
_ALARM_GRACE = 0.1  # the alarm ends an evaluator this long after the server gave up
_CONNECTION_SECONDS = 10.0  # most an evaluator waits on a connection's client
_NUDGE_AFTER = 0.01  # a query with no answer after this long tells the pool (see _supervise)
_EXTRA_DELAY = 0.002  # how long an extra evaluator leaves a new query to the steady one
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
QUICK_MEMORY = 32 << 20  # most bytes a query may have grown its evaluator by to count as quick


@dataclass(frozen=True)
class _Job:
    """What crosses the socket to an evaluator: plain values only."""

    store_path: str
    query: str
    format_key: str
    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]
    max_rows: int | None
    service_allowlist: frozenset[str]
    # time.monotonic() when the server gives up: one clock for every process (Linux)
    deadline: float | None


class _Deadline(Exception):  # noqa: N818 (a signal between two functions)
    """The deadline passed while waiting on a connection or pipe."""


class _Gone(Exception):  # noqa: N818
    """The other end closed: the process ended."""


def _send_message(
    fd: int, data: bytes, deadline: float | None, nudge: _Nudge | None = None
) -> None:
    """Write ``data``, length first, to the non-blocking ``fd``; _Deadline, _Gone."""
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        _wait(fd, select.POLLOUT, deadline, nudge)
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise _Gone from None
        view = view[written:]


def _receive_message(
    fd: int, deadline: float | None, nudge: _Nudge | None = None
) -> tuple[Any, ...]:
    """Read one length-prefixed pickle from the non-blocking ``fd``; _Deadline, _Gone."""
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline, nudge))
    message: tuple[Any, ...] = pickle.loads(_read_exactly(fd, length, deadline, nudge))
    return message


def _read_exactly(fd: int, size: int, deadline: float | None, nudge: _Nudge | None) -> bytes:
    buffer = bytearray()
    while len(buffer) < size:
        _wait(fd, select.POLLIN, deadline, nudge)
        try:
            chunk = os.read(fd, min(size - len(buffer), 1 << 20))
        except BlockingIOError:
            continue
        except ConnectionResetError:
            raise _Gone from None
        if not chunk:
            raise _Gone
        buffer += chunk
    return bytes(buffer)


def _wait(fd: int, events: int, deadline: float | None, nudge: _Nudge | None = None) -> None:
    """Block until ``fd`` is ready for ``events`` (or hung up); _Deadline when time is up.

    ``nudge`` is sent if its time comes first.
    """
    poller = select.poll()
    poller.register(fd, events)
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise _Deadline
        if nudge is not None and not nudge.sent and now >= nudge.at:
            nudge.send()
        ends = [] if deadline is None else [deadline]
        if nudge is not None and not nudge.sent:
            ends.append(nudge.at)
        timeout_ms = max(1, int((min(ends) - now) * 1000)) if ends else None
        if poller.poll(timeout_ms):
            return


class _Nudge:
    """Tells a pool, once, that a query has had no answer for ``_NUDGE_AFTER`` seconds,
    whether it waits for an evaluator or runs (its worker cannot tell which)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.at = time.monotonic() + _NUDGE_AFTER
        self.sent = False

    def send(self) -> None:
        self.sent = True
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as nudge,
        ):
            nudge.setblocking(False)
            nudge.sendto(b"waiting", self.address)


@dataclass
class _Evaluator:
    """One evaluator process, as its pool sees it."""

    process: subprocess.Popen[bytes]
    steady: bool  # the one always kept; the others are extras, which leave when idle
    started: float
    ready: bool = False

    @property
    def output(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()


class EvaluatorPool:
    """The evaluator processes of one server, shared by its workers through a Unix socket.

    One evaluator, the steady one, is started at once and again whenever it ends (at a
    query's deadline, say), so that a query finds one warm. When a query has waited
    ``spawn_after`` seconds with every evaluator busy, an extra one starts, up to ``size``
    in all; an extra takes a query only if the steady one leaves it for a moment (it is
    busy), and ends after ``idle_seconds`` without one, and with it the memory its store
    handle holds. If evaluators cannot start (no store, ``query_memory`` too small), the
    pool answers the waiting queries with the reason and tries again after
    ``RETRY_SECONDS``.

    ``store_path`` is asked for each evaluator started, so that after a new build the
    new ones open the current release; a query names its store, and an evaluator that has
    another one open switches to it.
    """

    def __init__(
        self,
        store_path: Path | Callable[[], Path],
        size: int,
        memory_mib: int,
        idle_seconds: float = 60.0,
        spawn_after: float = 0.05,
    ) -> None:
        self._store_path = store_path if callable(store_path) else (lambda: store_path)
        self.size = size
        self.memory_mib = memory_mib
        self.idle_seconds = idle_seconds
        self.spawn_after = spawn_after
        self._owner = os.getpid()  # forked workers inherit this object, not its thread
        self._folder = Path(tempfile.mkdtemp(prefix="lod-evaluators-"))  # mode 0700
        self.address = str(self._folder / "evaluators.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(socket.SOMAXCONN)
        self._listener.setblocking(False)  # shared by every evaluator: all poll, then accept
        self._nudges = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._nudges.bind(_nudge_address(self.address))
        self._nudges.setblocking(False)
        self._evaluators: dict[int, _Evaluator] = {}  # by the descriptor of their output
        self._failure: str | None = None
        self._retry_at = 0.0
        self._warned = False
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        self._closed = False
        self._start(steady=True)
        self._thread = threading.Thread(target=self._supervise, name="evaluator-pool", daemon=True)
        self._thread.start()

    def pids(self, ready_only: bool = True) -> list[int]:
        """The evaluators' process IDs, the steady one first."""
        with self._lock:
            found = [e for e in self._evaluators.values() if e.ready or not ready_only]
        return [e.process.pid for e in sorted(found, key=lambda e: not e.steady)]

    def close(self) -> None:
        """Stop every evaluator and remove the socket; only in the process that made the pool."""
        if self._closed or os.getpid() != self._owner:
            return
        self._closed = True
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        with self._lock:
            evaluators, self._evaluators = list(self._evaluators.values()), {}
        for evaluator in evaluators:
            _stop(evaluator.process)
        self._listener.close()
        self._nudges.close()
        shutil.rmtree(self._folder, ignore_errors=True)
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    # ---- the pool's thread

    def _supervise(self) -> None:
        """Until closed: read what evaluators say, replace the steady one, start extras.

        A query that has had no answer for ``_NUDGE_AFTER`` seconds says so on the nudge
        socket (running or waiting: its worker cannot tell). A query waiting for an
        evaluator keeps the listener readable, so from a nudge on the pool looks at it
        every quarter of ``spawn_after``, and starts an extra evaluator once it has stayed
        readable that long. Quick queries never wake this thread.
        """
        poller = select.poll()
        watched: set[int] = set()
        waiting_since: float | None = None  # since when a query has waited, as far as seen
        poller.register(self._wake_read, select.POLLIN)
        poller.register(self._nudges.fileno(), select.POLLIN)
        while not self._closed:
            with self._lock:
                outputs = set(self._evaluators)
            for fd in watched - outputs:
                poller.unregister(fd)
            for fd in outputs - watched:
                poller.register(fd, select.POLLIN)
            watched = outputs
            look_at = None if waiting_since is None else time.monotonic() + self.spawn_after / 4
            events = poller.poll(self._poll_timeout(look_at))
            now = time.monotonic()
            for fd, _ in events:
                if fd in outputs:
                    self._hear(fd)
                elif fd == self._nudges.fileno():
                    _drain(self._nudges)
                    if waiting_since is None:
                        waiting_since = now
            if waiting_since is not None:
                if self._failure is not None and not self.pids(ready_only=False):
                    self._refuse_waiting()
                    waiting_since = None
                elif not _readable(self._listener.fileno()):
                    waiting_since = None  # every query waiting then has been taken
                elif now - waiting_since >= self.spawn_after:
                    self._start_extra()
                    waiting_since = now
            self._stop_slow_starters(now)
            self._keep_steady(now)

    def _poll_timeout(self, look_at: float | None) -> int | None:
        """Milliseconds until the pool's next own step (a look, a retry, a startup limit)."""
        with self._lock:
            times = [e.started + STARTUP_SECONDS for e in self._evaluators.values() if not e.ready]
        if look_at is not None:
            times.append(look_at)
        if self._failure is not None:
            times.append(self._retry_at)
        if not times:
            return None
        return max(0, int((min(times) - time.monotonic()) * 1000) + 1)

    def _hear(self, fd: int) -> None:
        """What evaluator ``fd`` says: that it is ready, or why it failed; or it ended."""
        evaluator = self._evaluators[fd]
        try:
            message = _receive_message(fd, time.monotonic() + 5)
        except (_Gone, _Deadline, pickle.UnpicklingError):
            self._ended(fd)
            return
        if message[0] == "ready":
            with self._lock:
                evaluator.ready = True
            self._failure = None
            if not message[1] and not self._warned:
                self._warned = True
                logger.warning(
                    "query evaluators run without a network namespace of their own (the "
                    "kernel refused one): SERVICE clauses are still refused before evaluation"
                )
        else:
            self._fail(f"the query evaluator could not start: {message[1]}")

    def _ended(self, fd: int) -> None:
        with self._lock:
            evaluator = self._evaluators.pop(fd)
        returncode = evaluator.process.wait()
        if evaluator.process.stdout is not None:
            evaluator.process.stdout.close()
        if not evaluator.ready and self._failure is None:
            self._fail("the query evaluator ended before it was ready (see the server log)")
        elif returncode not in (0, -signal.SIGALRM):  # an extra leaving; a deadline
            logger.warning("a query evaluator ended (%s)", _ending(returncode))

    def _fail(self, reason: str) -> None:
        logger.error("%s", reason)
        self._failure = reason
        self._retry_at = time.monotonic() + RETRY_SECONDS

    def _keep_steady(self, now: float) -> None:
        with self._lock:
            has_steady = any(e.steady for e in self._evaluators.values())
        if not has_steady and (self._failure is None or now >= self._retry_at):
            self._retry_at = now + RETRY_SECONDS
            self._start(steady=True)

    def _start_extra(self) -> None:
        """Another evaluator, if every one is ready (a starting one takes the query soon)."""
        with self._lock:
            evaluators = list(self._evaluators.values())
        if evaluators and len(evaluators) < self.size and all(e.ready for e in evaluators):
            self._start(steady=False)

    def _stop_slow_starters(self, now: float) -> None:
        with self._lock:
            slow = [e for e in self._evaluators.values() if not e.ready]
        for evaluator in slow:
            if now - evaluator.started > STARTUP_SECONDS:
                self._fail(
                    f"the query evaluator had not opened the store after {STARTUP_SECONDS:g} s"
                )
                evaluator.process.kill()  # its output closes: _ended() follows

    def _start(self, steady: bool) -> None:
        try:
            store = self._store_path()
            listener = self._listener.fileno()
            role = "steady" if steady else "extra"
            command = [sys.executable, "-m", __name__, str(listener), str(store), str(self.memory_mib), role, str(self.idle_seconds)]  # fmt: skip
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                close_fds=True,
                pass_fds=(listener,),
                # RUST_BACKTRACE=0: one line in the log, not a backtrace. MALLOC_ARENA_MAX:
                # glibc reserves 64 MiB of address space per thread arena, which the
                # memory cap counts.
                env={**os.environ, "RUST_BACKTRACE": "0", "MALLOC_ARENA_MAX": "2"},
            )
        except Exception as exc:  # no release, no interpreter: say so to the queries
            self._fail(f"the query evaluator could not start: {exc}")
            return
        evaluator = _Evaluator(process, steady, time.monotonic())
        os.set_blocking(evaluator.output, False)
        with self._lock:
            self._evaluators[evaluator.output] = evaluator

    def _refuse_waiting(self) -> None:
        """Answer every waiting query with the reason no evaluator runs."""
        reply = pickle.dumps(("failure", self._failure), pickle.HIGHEST_PROTOCOL)
        while True:
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            # The query is read first: closing on a client still sending breaks its pipe.
            with connection, contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
                connection.settimeout(1.0)
                _receive_job(connection)
                connection.sendall(_HEADER.pack(len(reply)) + reply)


def _nudge_address(address: str) -> str:
    """Where a query that has waited a while tells the pool at ``address`` so."""
    return str(Path(address).with_name("nudges.sock"))


def _drain(nudges: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError, InterruptedError):
        while True:
            nudges.recv(64)


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill an evaluator at once (SIGKILL: no evaluation can delay it) and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait()
    if process.stdout is not None:
        with contextlib.suppress(OSError):
            process.stdout.close()


class QuickQueries:
    """The jobs evaluators answered quickly on this build, which may run in the server.

    Held as digests of the pickled job (query text, format, dataset, row cap), the most
    recently used ``capacity`` of them; safe to share between threads.
    """

    def __init__(self, seconds: float, capacity: int = 4096) -> None:
        self.seconds = seconds
        self._digests: BoundedLru[bytes, bool] = BoundedLru(capacity)

    def __contains__(self, digest: bytes) -> bool:
        return self._digests.get(digest) is not None

    def note(
        self, digest: bytes, seconds: float, growth: int | None, timeout: float | None
    ) -> None:
        """Remember a job an evaluator ran in ``seconds``, growing by ``growth`` bytes.

        Quick means within ``self.seconds`` and the query's own ``timeout``, and within
        ``QUICK_MEMORY``; an unknown growth (no ``/proc`` to read it from) is not quick.
        """
        limit = self.seconds if timeout is None else min(self.seconds, timeout)
        if growth is None or growth > QUICK_MEMORY or seconds > limit:
            return
        self._digests.put(digest, True)


class SandboxedBackend:
    """The embedded store, with users' queries run by evaluator processes.

    ``select``, ``ask`` and ``construct`` serve the site's own queries (from
    :mod:`lod_publisher.queries`, bounded by design) in this process; ``execute`` runs
    users' queries in an evaluator, or here once seen to be quick (see the module's
    docstring), and keeps every field of :class:`QueryLimits`.
    """

    def __init__(
        self,
        store_path: Path,
        local: Backend,
        evaluators: int = 4,
        memory_mib: int = 2048,
        quick_seconds: float = 0.0,
        pool_address: str | None = None,
    ) -> None:
        """``local``: the same store opened in this process, for the site's own queries
        and the quick ones; ``quick_seconds``: 0 sends every user's query to an evaluator;
        ``pool_address``: the server's shared :class:`EvaluatorPool`, or None for a pool
        of this object's own (``evaluators`` processes at most).
        """
        self.store_path = store_path
        self.memory_mib = memory_mib
        self._local = local
        self._pool: EvaluatorPool | None = None
        if pool_address is None:
            self._pool = EvaluatorPool(store_path, evaluators, memory_mib)
            pool_address = self._pool.address
            atexit.register(self.close)
        self._address = pool_address
        self._nudge_address = _nudge_address(pool_address)
        self.quick = QuickQueries(quick_seconds)

    def select(self, query: str) -> list[Solution]:
        return self._local.select(query)

    def ask(self, query: str) -> bool:
        return self._local.ask(query)

    def construct(self, query: str) -> Graph:
        return self._local.construct(query)

    def execute(
        self,
        query: str,
        result_format: Format,
        dataset: DatasetSpec = PUBLISHED_DATASET,
        limits: QueryLimits = NO_LIMITS,
    ) -> QueryResult:
        """Run a user's query in an evaluator, which ends at ``limits.timeout`` seconds,
        or here if an evaluator has answered it quickly before."""
        sealing.check(query, limits.service_allowlist)  # nothing unsafe crosses the socket
        what = (
            str(self.store_path),
            query,
            result_format.key,
            dataset.default_graphs,
            dataset.named_graphs,
            limits.max_rows,
            limits.service_allowlist,
        )
        digest = hashlib.blake2b(pickle.dumps(what), digest_size=16).digest()
        if digest in self.quick:
            return self._run_here(query, result_format, dataset, limits)
        deadline = None if limits.timeout is None else time.monotonic() + limits.timeout
        reply = self._evaluate(_Job(*what, deadline), limits)
        if reply[0] == "ok":
            self.quick.note(digest, reply[4], reply[5], limits.timeout)
        return _outcome(reply, result_format)

    def _run_here(
        self, query: str, result_format: Format, dataset: DatasetSpec, limits: QueryLimits
    ) -> QueryResult:
        """A query seen to be quick, run in this process: the evaluator's result, no trip."""
        try:
            return self._local.execute(query, result_format, dataset, limits)
        except (QueryError, QueryRefusedError):
            raise
        except Exception as exc:  # as an evaluator reports it: the engine's failure
            raise EngineError(f"{type(exc).__name__}: {exc}") from exc

    def _evaluate(self, job: _Job, limits: QueryLimits) -> tuple[Any, ...]:
        """The evaluator's reply to ``job``; QueryTimeout at its deadline.

        The query waits for an idle evaluator, then runs, within the one deadline.
        """
        data = pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(self._address)
            except OSError as exc:
                raise EngineError(f"the query evaluators do not answer ({exc}); is the server stopping?") from None  # fmt: skip
            connection.setblocking(False)
            nudge = _Nudge(self._nudge_address)
            try:
                _send_message(connection.fileno(), data, job.deadline, nudge)
                return _receive_message(connection.fileno(), job.deadline, nudge)
            except _Deadline:
                raise QueryTimeout(
                    f"the query ran for {limits.timeout:g} s, this endpoint's limit, and was "
                    "stopped; make it more selective (a LIMIT does not help an ORDER BY or "
                    "an aggregate, which see every solution first)"
                ) from None
            except _Gone:
                raise EngineError(
                    "the query evaluator ended while running this query; most likely the "
                    f"query needed more memory than the {self.memory_mib} MiB an evaluator "
                    "may use"
                ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def _ending(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def _outcome(reply: tuple[Any, ...], result_format: Format) -> QueryResult:
    kind = reply[0]
    if kind == "ok":
        _, payload, rows, truncated, _seconds, _growth = reply
        return QueryResult(payload, result_format, rows, truncated)
    if kind == "refused":
        raise QueryRefusedError(reply[1], reply[2])
    if kind == "query":
        raise QueryError(reply[1])
    raise EngineError(reply[1])


# ----------------------------------------------------------------- the evaluator process


def isolate_network() -> bool:
    """Move this process into a new network namespace (no interface up); False if refused.

    Must run before the process starts threads (a user namespace requires it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    return any(
        libc.unshare(flags) == 0 for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET)
    )


def _send(channel: IO[bytes], message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    channel.write(_HEADER.pack(len(data)) + data)
    channel.flush()


def _receive_job(connection: socket.socket) -> _Job:
    """The job a server sent on ``connection`` (EOFError if it closed before the end)."""

    def exactly(size: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            chunk = connection.recv(min(size - len(buffer), 1 << 20))
            if not chunk:
                raise EOFError
            buffer += chunk
        return bytes(buffer)

    (length,) = _HEADER.unpack(exactly(_HEADER.size))
    job: _Job = pickle.loads(exactly(length))
    return job


def _watch_parent(parent: int) -> None:
    """End this process within a second of its server process ending, even mid-query."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


class PeakMemory:
    """How far a job raised this process's resident memory at its peak (Linux ``/proc``).

    The kernel's high-water mark (``VmHWM``) is reset before each job (``clear_refs``
    5) and read after it; about 10 µs. None where ``/proc`` does not offer both.
    """

    def __init__(self) -> None:
        try:
            self._reset: int | None = os.open("/proc/self/clear_refs", os.O_WRONLY)
            self._status: int | None = os.open("/proc/self/status", os.O_RDONLY)
        except OSError:
            self._reset = self._status = None

    def start(self) -> int | None:
        """Reset the high-water mark to the memory in use now, and return it in bytes."""
        if self._reset is None:
            return None
        try:
            os.write(self._reset, b"5")
        except OSError:
            return None
        return self._high_water()

    def growth_since(self, start: int | None) -> int | None:
        if start is None:
            return None
        peak = self._high_water()
        return None if peak is None else max(peak - start, 0)

    def _high_water(self) -> int | None:
        assert self._status is not None
        status = os.pread(self._status, 8192, 0)
        at = status.find(b"VmHWM:")
        if at < 0:
            return None
        return int(status[at + 6 : status.index(b"kB", at)]) * 1024


def _answer(store: ox.Store, job: _Job, memory: PeakMemory) -> tuple[Any, ...]:
    """The reply to ``job``; a result also says how long it took and how much memory."""
    start, started = memory.start(), time.perf_counter()
    try:
        result = execute(
            store,
            job.query,
            by_key(job.format_key),
            DatasetSpec(job.default_graphs, job.named_graphs),
            QueryLimits(None, job.max_rows, job.service_allowlist),
        )
    except QueryRefusedError as exc:
        return ("refused", str(exc), exc.status)
    except QueryError as exc:
        return ("query", str(exc))
    except MemoryError:
        return ("failure", "the query needed more memory than this evaluator may use")
    except Exception as exc:  # anything else is the engine's failure, not the query's
        return ("failure", f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    return (
        "ok",
        result.payload,
        result.rows,
        result.truncated,
        seconds,
        memory.growth_since(start),
    )


def _address_space() -> int:
    """Bytes of address space this process uses now (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * resource.getpagesize()


@dataclass
class _OpenStore:
    """The store an evaluator has open; a query that names another switches it."""

    path: str
    store: ox.Store | None

    def switch(self, path: str) -> None:
        """Open ``path`` (OSError if it cannot), the old store closed first: its files
        and caches go before the new one's come (a new release is current after SIGHUP)."""
        self.store = None
        self.store, self.path = ox.Store.read_only(path), path


def _serve(listener: socket.socket, opened: _OpenStore, extra: bool, idle_seconds: float) -> None:
    """Answer the queries of the connections accepted on ``listener``, one at a time.

    Every evaluator polls the shared listener and tries to accept; an extra one waits a
    moment first, so that the steady one takes the query if it is idle, and returns after
    ``idle_seconds`` without a query.
    """
    memory = PeakMemory()
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    last_query = time.monotonic()
    while True:
        if extra:
            left = last_query + idle_seconds - time.monotonic()
            if left <= 0:
                return
            if not poller.poll(int(left * 1000) + 1):
                continue
            time.sleep(_EXTRA_DELAY)
        else:
            poller.poll()
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):  # another evaluator took it
            continue
        with connection:
            _handle(connection, opened, memory)
        last_query = time.monotonic()


def _handle(connection: socket.socket, opened: _OpenStore, memory: PeakMemory) -> None:
    """Run the job on ``connection`` under an alarm at its deadline, and answer it."""
    connection.settimeout(_CONNECTION_SECONDS)
    try:
        job = _receive_job(connection)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError):
        return  # the server gave up before it had sent the query
    if job.deadline is not None:
        left = job.deadline - time.monotonic()
        if left <= 0:
            return  # the server has answered that it timed out
        # SIGALRM's default action ends the process, wherever the evaluation is.
        signal.setitimer(signal.ITIMER_REAL, left + _ALARM_GRACE)
    try:
        reply = _answer_with(opened, job, memory)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):  # the server gave up on it meanwhile
        connection.sendall(_HEADER.pack(len(data)) + data)


def _answer_with(opened: _OpenStore, job: _Job, memory: PeakMemory) -> tuple[Any, ...]:
    if job.store_path != opened.path or opened.store is None:
        try:
            opened.switch(job.store_path)
        except OSError as exc:
            return ("failure", f"cannot open the store {job.store_path}: {exc}")
    assert opened.store is not None
    return _answer(opened.store, job, memory)


def main(argv: list[str]) -> None:
    """Serve queries from the pool's listener until the server ends (or, extra, when idle)."""
    listener_fd, store_path, memory_mib = int(argv[0]), argv[1], int(argv[2])
    extra, idle_seconds = argv[3] == "extra", float(argv[4])
    isolated = isolate_network()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a query's deadline ends the process
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to standard output goes to the log instead
    listener = socket.socket(fileno=listener_fd)
    listener.setblocking(False)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:  # held by the _OpenStore only, so that a switch closes it
        opened = _OpenStore(store_path, ox.Store.read_only(store_path))
    except OSError as exc:
        _send(channel_out, ("failed", f"cannot open the store {store_path}: {exc}"))
        return
    # The cap bounds query evaluation, so it applies once the store is open: opening it
    # reserves address space (threads, caches) that must not fail half-way.
    limit, in_use = memory_mib * 1024 * 1024, _address_space()
    if in_use >= limit:
        _send(channel_out, ("failed", f"query_memory is {memory_mib} MiB, but an evaluator already uses {in_use // 2**20} MiB of address space with the store open: raise LOD_QUERY_MEMORY"))  # fmt: skip
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _send(channel_out, ("ready", isolated))
    _serve(listener, opened, extra, idle_seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
