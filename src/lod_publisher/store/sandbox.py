"""Users' SPARQL queries evaluated in worker processes that are killed at the deadline.

pyoxigraph 0.5 has no query timeout, and a query under way cannot be interrupted from
Python: an aggregate over a cartesian product yields nothing until it is done. So each
server process keeps a small pool of evaluator processes, started once and reused (no
process is started per query). An evaluator opens the store read-only, runs
:func:`lod_publisher.store.execution.execute` (sealed, rows capped) and sends back the bytes pyoxigraph
serialized, over a pipe. At the deadline the server kills it with SIGKILL, answers
:class:`QueryTimeout` and starts a replacement; other requests are answered meanwhile by
the other evaluators and server processes.

An evaluator also runs with a cap on its address space (``query_memory``) and, where the
kernel lets it (Linux, as root or with unprivileged user namespaces), in a network
namespace of its own with no interface up: even a SERVICE clause that got past
:mod:`lod_publisher.sealing` could not open a connection.

The trip to an evaluator costs about 0.3 ms, more than a lookup takes to run. So a query
an evaluator has answered quickly (``quick_seconds``) and in little memory
(``QUICK_MEMORY``) runs in the server process the next times it is asked: the store is
read-only and a build never changes, so the same query does the same work each time, and
the deadline it would be held to is one it was seen to keep. A query never seen, or seen
to be slow, always goes to an evaluator.

Run as ``python -m lod_publisher.store.sandbox STORE MEMORY_MIB`` by :class:`EvaluatorPool`
only; it speaks length-prefixed pickles on its standard input and output.
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
import signal
import struct
import subprocess
import sys
import threading
import time
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

_HEADER = struct.Struct(">Q")  # the length of the pickle that follows
STARTUP_SECONDS = 60.0  # how long a new evaluator may take to open the store
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
QUICK_MEMORY = 32 << 20  # most bytes a query may have grown its evaluator by to count as quick


@dataclass(frozen=True)
class _Job:
    """What crosses the pipe to an evaluator: plain values only."""

    query: str
    format_key: str
    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]
    max_rows: int | None
    service_allowlist: frozenset[str]


class _Deadline(Exception):  # noqa: N818 (a signal between two methods)
    """The deadline passed while waiting for the evaluator."""


class _Gone(Exception):  # noqa: N818
    """The evaluator's pipe closed: the process ended."""

    def __init__(self, while_sending: bool) -> None:
        super().__init__("the evaluator process ended")
        self.while_sending = while_sending


class Evaluator:
    """One evaluator process and its two pipes; used by one thread at a time."""

    def __init__(self, store_path: Path, memory_mib: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(store_path), str(memory_mib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            # RUST_BACKTRACE=0: one line in the log, not a backtrace. MALLOC_ARENA_MAX: glibc
            # reserves 64 MiB of address space per thread arena, which the memory cap counts.
            env={**os.environ, "RUST_BACKTRACE": "0", "MALLOC_ARENA_MAX": "2"},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._out: IO[bytes] = self.process.stdin
        self._in: IO[bytes] = self.process.stdout
        os.set_blocking(self._out.fileno(), False)
        os.set_blocking(self._in.fileno(), False)
        self._writable, self._readable = select.poll(), select.poll()
        self._writable.register(self._out.fileno(), select.POLLOUT)
        self._readable.register(self._in.fileno(), select.POLLIN)
        self.ready = False
        self.isolated: bool | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> float:
        """Wait until a new evaluator has opened the store; the seconds it took.

        Starting is the server's cost, not the query's: it has its own allowance
        (``STARTUP_SECONDS``), and the caller moves the query's deadline by what it took.
        """
        if self.ready:
            return 0.0
        started = time.monotonic()
        try:
            status, detail = self._read(started + STARTUP_SECONDS)
        except _Gone:
            status, detail = "gone", "it ended before it was ready (see the server log)"
        except _Deadline:
            status, detail = "slow", f"it had not opened the store after {STARTUP_SECONDS} s"
        if status != "ready":
            raise EngineError(f"the query evaluator could not start: {detail}")
        self.ready, self.isolated = True, bool(detail)
        return time.monotonic() - started

    def call(self, job: bytes, deadline: float | None) -> tuple[Any, ...]:
        """Send a pickled :class:`_Job` to a ready evaluator, wait for the reply.

        _Deadline or _Gone if none comes.
        """
        assert self.ready, "wait_ready() first"
        self._write(job, deadline)
        return self._read(deadline)

    def kill(self) -> None:
        """Stop the process at once (SIGKILL: no evaluation can delay it) and reap it."""
        if self.alive():
            self.process.kill()
        self.process.wait()
        for pipe in (self._out, self._in):
            with contextlib.suppress(OSError):
                pipe.close()

    def _write(self, data: bytes, deadline: float | None) -> None:
        view = memoryview(_HEADER.pack(len(data)) + data)
        fd = self._out.fileno()
        while view:
            _wait(self._writable, deadline)
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _Gone(while_sending=True) from None
            view = view[written:]

    def _read(self, deadline: float | None) -> tuple[Any, ...]:
        header = self._read_exactly(_HEADER.size, deadline)
        (length,) = _HEADER.unpack(header)
        reply: tuple[Any, ...] = pickle.loads(self._read_exactly(length, deadline))
        return reply

    def _read_exactly(self, size: int, deadline: float | None) -> bytes:
        fd = self._in.fileno()
        buffer = bytearray()
        while len(buffer) < size:
            _wait(self._readable, deadline)
            try:
                chunk = os.read(fd, min(size - len(buffer), 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise _Gone(while_sending=False)
            buffer += chunk
        return bytes(buffer)


def _wait(poller: select.poll, deadline: float | None) -> None:
    """Block until the pipe of ``poller`` is ready (or hung up); _Deadline when time is up."""
    while True:
        if deadline is None:
            timeout_ms = None
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Deadline
            timeout_ms = max(1, int(left * 1000))
        if poller.poll(timeout_ms):
            return


class EvaluatorPool:
    """Up to ``size`` evaluators for one server process, started when first needed.

    One is started at once, so the first query finds it warm; one killed at a deadline
    is replaced straight away. The most recently used idle evaluator takes the next query
    (its caches are warm), so the others only work when queries overlap, and another is
    started only when the busy ones stay busy for ``spawn_after`` seconds: a burst of
    quick queries waits a few milliseconds for one rather than starting a process that
    takes longer to open the store. Each evaluator beyond the newest that stays idle for
    ``idle_seconds`` is stopped, and with it the memory its store handle holds (RocksDB's
    caches, which grow with the queries it has run: 40-90 MB at 1M triples).
    """

    def __init__(
        self,
        store_path: Path,
        size: int,
        memory_mib: int,
        idle_seconds: float = 60.0,
        spawn_after: float = 0.05,
    ) -> None:
        self.store_path = store_path
        self.size = size
        self.memory_mib = memory_mib
        self.idle_seconds = idle_seconds
        self.spawn_after = spawn_after
        self._idle: list[tuple[Evaluator, float]] = []  # and when it came free; newest last
        self._count = 0
        self._closed = False
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._spawn_idle()
        threading.Thread(target=self._retire_idle, name="evaluator-retirement", daemon=True).start()

    def acquire(self, deadline: float | None) -> Evaluator:
        """An idle evaluator, a new one, or the first to come free before the deadline."""
        patience = time.monotonic() + self.spawn_after
        with self._changed:
            while True:
                if self._closed:
                    raise EngineError("the query evaluators are shut down")
                while self._idle:
                    evaluator, _ = self._idle.pop()
                    if evaluator.alive():
                        return evaluator
                    evaluator.kill()
                    self._count -= 1
                now = time.monotonic()
                may_start = self._count < self.size
                if may_start and (self._count == 0 or now >= patience):
                    self._count += 1
                    break
                if deadline is not None and deadline <= now:
                    raise QueryTimeout(
                        "every query evaluator stayed busy until this query's time limit"
                    )
                # wait for a busy one to come free: a little while if another may start
                ends = [t for t in (patience if may_start else None, deadline) if t is not None]
                self._changed.wait(min(ends) - now if ends else None)
        try:
            return Evaluator(self.store_path, self.memory_mib)
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise

    def release(self, evaluator: Evaluator) -> None:
        with self._changed:
            if self._closed:
                evaluator.kill()
                return
            self._idle.append((evaluator, time.monotonic()))
            self._changed.notify()

    def discard(self, evaluator: Evaluator) -> None:
        """Kill ``evaluator`` and start a replacement, so the next query finds one warm."""
        evaluator.kill()
        with self._changed:
            self._count -= 1
            self._changed.notify()
        self._spawn_idle()

    def close(self) -> None:
        self._stopping.set()
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for evaluator, _ in idle:
            evaluator.kill()

    def _retire_idle(self) -> None:
        """Stop the evaluators idle for ``idle_seconds``, all but the newest; until closed."""
        while not self._stopping.wait(max(0.5, self.idle_seconds / 4)):
            with self._changed:
                now = time.monotonic()
                retired = [e for e, since in self._idle[:-1] if now - since >= self.idle_seconds]
                self._idle = [(e, since) for e, since in self._idle if e not in retired]
                self._count -= len(retired)
            for evaluator in retired:
                evaluator.kill()

    def _spawn_idle(self) -> None:
        with self._changed:
            if self._closed or self._idle or self._count >= self.size:
                return
            self._count += 1
        try:
            evaluator = Evaluator(self.store_path, self.memory_mib)
        except BaseException:
            with self._changed:
                self._count -= 1
            raise
        self.release(evaluator)


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
    """The embedded store, with users' queries run in killable evaluator processes.

    ``select``, ``ask`` and ``construct`` serve the site's own queries (from
    :mod:`lod_publisher.queries`, bounded by design) in this process; ``execute`` runs
    users' queries in the pool, or here once seen to be quick (see the module's
    docstring), and keeps every field of :class:`QueryLimits`.
    """

    def __init__(
        self,
        store_path: Path,
        local: Backend,
        evaluators: int = 4,
        memory_mib: int = 2048,
        quick_seconds: float = 0.0,
    ) -> None:
        """``local``: the same store opened in this process, for the site's own queries
        and the quick ones; ``quick_seconds``: 0 sends every user's query to an evaluator.
        """
        self.store_path = store_path
        self.memory_mib = memory_mib
        self._local = local
        self._pool = EvaluatorPool(store_path, evaluators, memory_mib)
        self.quick = QuickQueries(quick_seconds)
        self._warned = False
        atexit.register(self.close)

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
        """Run a user's query in an evaluator, killed at ``limits.timeout`` seconds, or
        here if an evaluator has answered it quickly before."""
        sealing.check(query, limits.service_allowlist)  # nothing unsafe crosses the pipe
        job = pickle.dumps(
            _Job(
                query,
                result_format.key,
                dataset.default_graphs,
                dataset.named_graphs,
                limits.max_rows,
                limits.service_allowlist,
            ),
            pickle.HIGHEST_PROTOCOL,
        )
        digest = hashlib.blake2b(job, digest_size=16).digest()
        if digest in self.quick:
            return self._run_here(query, result_format, dataset, limits)
        reply = self._evaluate(job, limits)
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

    def _evaluate(self, job: bytes, limits: QueryLimits) -> tuple[Any, ...]:
        """The evaluator's reply to the pickled ``job``; QueryTimeout at the deadline."""
        deadline = None if limits.timeout is None else time.monotonic() + limits.timeout
        for attempt in (1, 2):
            evaluator = self._pool.acquire(deadline)
            try:
                started_in = evaluator.wait_ready()
                if deadline is not None:
                    deadline += started_in
                reply = evaluator.call(job, deadline)
            except _Deadline:
                self._pool.discard(evaluator)
                raise QueryTimeout(
                    f"the query ran for {limits.timeout:g} s, this endpoint's limit, and was "
                    "stopped; make it more selective (a LIMIT does not help an ORDER BY or "
                    "an aggregate, which see every solution first)"
                ) from None
            except _Gone as gone:
                self._pool.discard(evaluator)
                if gone.while_sending and attempt == 1:
                    continue  # it had ended while idle: try a fresh one
                raise EngineError(
                    f"the query evaluator ended while running this query "
                    f"({_ending(evaluator.process.returncode)}); most likely the query needed "
                    f"more memory than the {self.memory_mib} MiB an evaluator may use"
                ) from None
            except BaseException:
                self._pool.discard(evaluator)
                raise
            self._pool.release(evaluator)
            self._note_isolation(evaluator)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._pool.close()

    def _note_isolation(self, evaluator: Evaluator) -> None:
        if evaluator.isolated is False and not self._warned:
            self._warned = True
            logger.warning(
                "query evaluators run without a network namespace of their own (the kernel "
                "refused one): SERVICE clauses are still refused before evaluation"
            )


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


def _receive(channel: IO[bytes]) -> _Job | None:
    header = channel.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    job: _Job = pickle.loads(channel.read(length))
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


def main(argv: list[str]) -> None:
    """Serve jobs from standard input until it closes."""
    store_path, memory_mib = argv[0], int(argv[1])
    isolated = isolate_network()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to standard output goes to the log instead
    channel_in = sys.stdin.buffer
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        store = ox.Store.read_only(store_path)
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
    memory = PeakMemory()
    try:
        _send(channel_out, ("ready", isolated))
        while (job := _receive(channel_in)) is not None:
            _send(channel_out, _answer(store, job, memory))
    except BrokenPipeError:  # the server gave up on us (or stopped): nobody to answer
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
