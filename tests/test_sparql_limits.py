"""The endpoint's limits hold on a real server: a query that never yields a row is stopped at
the timeout while other requests are answered, memory and rows are capped, and no evaluator
outlives its server."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from tests.conftest import (
    Reply,
    assert_clean_log,
    fetch,
    free_port,
    open_files,
    start_server,
    stop_server,
)

from lod_publisher.formats import by_key
from lod_publisher.releases import Release
from lod_publisher.settings import Settings
from lod_publisher.store.backend import EngineError, QueryLimits, QueryTimeout
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.store.sandbox import (
    QUICK_MEMORY,
    EvaluatorPool,
    PeakMemory,
    QuickQueries,
    SandboxedBackend,
)
from lod_publisher.web import create_app
from lod_publisher.web.sparql import endpoint_of

pytestmark = pytest.mark.server

TIMEOUT = 2.0
# COUNT over a cartesian product: no row comes out until every combination is counted.
CARTESIAN_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
# ORDER BY over a cartesian product: every solution is held in memory before the first.
CARTESIAN_SORT = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f LIMIT 1"
QUERY_LIMITS = QueryLimits(timeout=20, max_rows=3)


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def limited(settings: Settings, release: Release) -> Iterator[Server]:
    """The server with 2 workers, a 2 s timeout, 5 rows and 1 GiB per evaluator."""
    port = free_port()
    process = start_server(
        dataclasses.replace(settings, port=port),
        "--workers", "2", "--query-timeout", str(TIMEOUT), "--max-rows", "5",
        "--query-memory", "1024",
    )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}/", process)
    # Both workers' first queries, so that each has its backend ready.
    warm = [threading.Thread(target=query, args=(server, "ASK {}")) for _ in range(6)]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join(timeout=60)
    try:
        yield server
    finally:
        evaluators = evaluator_pids(process.pid)
        log = stop_server(process)
        assert_clean_log(log)
        deadline = time.monotonic() + 10
        while evaluators & running_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not evaluators & running_pids(), "evaluators outlived their server"


def query(server: Server, text: str, timeout: float = 30) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = fetch(f"{server.url}sparql?{urlencode({'query': text})}", {"Accept": "*/*"})
    return reply, time.monotonic() - started


def running_pids() -> set[int]:
    return {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}


def evaluator_pids(master: int) -> set[int]:
    """Processes running lod_publisher.store.sandbox below the server process ``master``."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            grandparent = int(
                (Path("/proc") / str(parent) / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except (OSError, ValueError, IndexError):
            continue
        if b"lod_publisher.store.sandbox" in command and master in (parent, grandparent):
            found.add(int(proc.name))
    return found


def test_the_timeout_holds_for_a_query_that_never_yields(limited: Server) -> None:
    outcome: list[tuple[Reply, float]] = []

    def heavy() -> None:
        outcome.append(query(limited, CARTESIAN_COUNT))

    thread = threading.Thread(target=heavy)
    thread.start()
    time.sleep(0.3)  # the heavy query is under way
    quick: list[float] = []
    for _ in range(5):
        reply, seconds = query(limited, "ASK { ?s ?p ?o }")
        assert reply.status == 200 and b"true" in reply.body
        quick.append(seconds)
    answered_during = thread.is_alive()
    thread.join(timeout=TIMEOUT + 20)
    assert not thread.is_alive()

    assert answered_during, "the simple queries were not answered while the heavy one ran"
    assert max(quick) < TIMEOUT / 2, f"simple queries took {quick}"
    [(reply, seconds)] = outcome
    assert reply.status == 503, reply.body
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert b"2 s" in reply.body and b"stopped" in reply.body
    assert TIMEOUT - 0.1 <= seconds < TIMEOUT + 3, seconds

    # the worker is free again, and its next query finds a fresh evaluator
    for _ in range(4):
        reply, seconds = query(limited, "ASK { ?s ?p ?o }")
        assert reply.status == 200 and seconds < TIMEOUT


def test_two_heavy_queries_at_once_both_stop(limited: Server) -> None:
    replies: list[tuple[Reply, float]] = []
    threads = [
        threading.Thread(target=lambda: replies.append(query(limited, CARTESIAN_COUNT)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT + 20)
    assert [reply.status for reply, _ in replies] == [503, 503]
    assert all(seconds < TIMEOUT + 3 for _, seconds in replies)
    assert query(limited, "ASK {}")[0].status == 200


def test_a_query_over_its_memory_is_stopped_and_the_server_goes_on(limited: Server) -> None:
    reply, seconds = query(limited, CARTESIAN_SORT)
    assert reply.status in (500, 503), reply.body  # whichever limit it reaches first
    if reply.status == 500:
        assert b"1024 MiB" in reply.body
    assert seconds < TIMEOUT + 3
    assert query(limited, "ASK { ?s ?p ?o }")[0].status == 200


def test_rows_are_capped_and_the_cap_is_stated(limited: Server) -> None:
    replies = [query(limited, "SELECT * WHERE { ?s ?p ?o }")[0] for _ in range(6)]
    for reply in replies:  # by an evaluator, then (seen to be quick) in the worker itself
        assert reply.status == 200
        assert reply.header("x-sparql-truncated") == "true"
        assert reply.header("x-sparql-maxrows") == "5"
        assert reply.body.count(b'"s":') == 5
        assert reply.body == replies[0].body
    description = fetch(f"{limited.url}sparql", {"Accept": "text/turtle"})
    assert b"lim:maxResultRows 5" in description.body
    assert (
        b'lim:queryTimeout "2.0"' in description.body or b"lim:queryTimeout 2.0" in description.body
    )


def test_evaluators_run_without_network_where_the_kernel_allows(limited: Server) -> None:
    pids = evaluator_pids(limited.process.pid)
    assert pids, "no evaluator process found"
    if os.geteuid() != 0:
        pytest.skip("a network namespace of its own needs root or user namespaces")
    own = Path("/proc/self/ns/net").readlink()
    for pid in pids:  # an evaluator moves to its own namespace as it starts: give it time
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if Path(f"/proc/{pid}/ns/net").readlink() != own:
                    break
            except FileNotFoundError:  # it ended (replaced): nothing to check
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"evaluator {pid} shares the server's network namespace")


# ----------------------------------------------------------------- the pool, directly


def test_the_workers_share_the_servers_evaluators(limited: Server) -> None:
    """The evaluators are the server's main process's children, not one set per worker."""
    pids = evaluator_pids(limited.process.pid)
    assert pids
    for pid in pids:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert parent == limited.process.pid


def ready_pool(pool: EvaluatorPool, count: int = 1) -> list[int]:
    """The pool's evaluators once ``count`` of them are ready."""
    deadline = time.monotonic() + 60
    while len(pids := pool.pids()) < count:
        assert time.monotonic() < deadline, "evaluators did not start"
        time.sleep(0.05)
    return pids


def test_an_evaluator_that_died_while_idle_is_replaced(release: Release) -> None:
    backend = SandboxedBackend(
        release.store_path, EmbeddedBackend.open(release.store_path), evaluators=1
    )
    try:
        limits = QueryLimits(timeout=20, max_rows=10)
        assert backend.execute("ASK {}", by_key("srj"), limits=limits).payload.endswith(b"true}")
        assert backend._pool is not None
        for pid in ready_pool(backend._pool):
            os.kill(pid, signal.SIGKILL)  # the pool's child, in this process
        result = backend.execute("SELECT * WHERE { ?s ?p ?o }", by_key("tsv"), limits=limits)
        assert (result.rows, result.truncated) == (10, True)
    finally:
        backend.close()


def test_a_query_names_its_store_and_an_evaluator_switches_to_it(
    release: Release, tmp_path: Path
) -> None:
    """After a new build (and SIGHUP), the workers' queries name the new release's store."""
    other = tmp_path / "store"
    shutil.copytree(release.store_path, other)
    pool = EvaluatorPool(release.store_path, size=1, memory_mib=2048)
    try:
        backend = SandboxedBackend(
            other, EmbeddedBackend.open(other), memory_mib=2048, pool_address=pool.address
        )
        [pid] = ready_pool(pool)
        answer = backend.execute("SELECT * WHERE { ?s ?p ?o }", by_key("tsv"), limits=QUERY_LIMITS)  # fmt: skip
        assert answer.rows == 3 and pool.pids() == [pid]
        opened = {str(path) for path in open_files(pid)}
        assert any(name.startswith(f"{other}/") for name in opened), opened
        old = f"{release.store_path.resolve()}/"
        assert not any(name.startswith(old) for name in opened), "the old store is still open"
    finally:
        pool.close()


def test_an_evaluator_that_cannot_start_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-store"
    pool = EvaluatorPool(missing, size=1, memory_mib=2048)
    try:
        backend = SandboxedBackend(missing, EmbeddedBackend.__new__(EmbeddedBackend), pool_address=pool.address)  # fmt: skip
        started = time.monotonic()
        with pytest.raises(EngineError, match="could not start: cannot open the store"):
            backend.execute("ASK {}", by_key("srj"), limits=QUERY_LIMITS)
        assert time.monotonic() - started < 30
    finally:
        pool.close()


@pytest.mark.parametrize("quick_seconds", [5.0, 0.0])
def test_a_query_seen_to_be_quick_runs_in_the_server_process_next_time(
    release: Release, quick_seconds: float
) -> None:
    """With the evaluators stopped (SIGSTOP), only what runs in this process is answered:
    a query an evaluator answered quickly, asked again, unless the setting is 0; a query
    never seen still waits for an evaluator and is stopped at its deadline."""
    backend = SandboxedBackend(
        release.store_path,
        EmbeddedBackend.open(release.store_path),
        evaluators=1,
        quick_seconds=quick_seconds,
    )
    assert backend._pool is not None
    limits = QueryLimits(timeout=1.0, max_rows=3)
    seen = "SELECT * WHERE { ?s ?p ?o }"
    stopped = ready_pool(backend._pool)
    try:
        first = backend.execute(seen, by_key("srj"), limits=limits)
        assert (first.rows, first.truncated) == (3, True)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)  # the pool's child, in this process
        if quick_seconds:
            assert backend.execute(seen, by_key("srj"), limits=limits) == first
        else:
            with pytest.raises(QueryTimeout):
                backend.execute(seen, by_key("srj"), limits=limits)
        with pytest.raises(QueryTimeout):
            backend.execute("ASK { ?s ?p ?o }", by_key("srj"), limits=limits)
        # the same text with another row cap is another query: not seen either
        with pytest.raises(QueryTimeout):
            backend.execute(seen, by_key("srj"), limits=dataclasses.replace(limits, max_rows=4))
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        backend.close()


def test_quick_means_within_the_time_the_deadline_and_the_memory() -> None:
    quick = QuickQueries(seconds=0.02, capacity=2)
    quick.note(b"fast", 0.01, 1 << 20, timeout=30)
    quick.note(b"slow", 0.03, 1 << 20, timeout=30)
    quick.note(b"over its own deadline", 0.01, 1 << 20, timeout=0.005)
    quick.note(b"big", 0.01, QUICK_MEMORY + 1, timeout=None)
    quick.note(b"memory unknown", 0.01, None, timeout=None)
    assert b"fast" in quick
    for digest in (b"slow", b"over its own deadline", b"big", b"memory unknown"):
        assert digest not in quick
    quick.note(b"second", 0.01, 0, timeout=None)
    assert b"fast" in quick  # used last: the next one pushes out "second"
    quick.note(b"third", 0.01, 0, timeout=None)
    assert b"fast" in quick and b"third" in quick and b"second" not in quick


def test_peak_memory_sees_a_job_allocate() -> None:
    memory = PeakMemory()
    start = memory.start()
    if start is None:
        pytest.skip("this kernel offers no resettable peak RSS (/proc/self/clear_refs)")
    held = b"\x01" * (64 << 20)  # written, so resident
    growth = memory.growth_since(start)
    assert growth is not None and growth >= 60 << 20, growth
    del held
    assert memory.growth_since(memory.start()) == 0  # reset: the peak is what is in use now


@contextlib.contextmanager
def shared_pool(
    release: Release, size: int, **options: float
) -> Iterator[tuple[EvaluatorPool, SandboxedBackend, int]]:
    """A pool of ``size`` evaluators, a backend using it, and its steady evaluator."""
    pool = EvaluatorPool(release.store_path, size=size, memory_mib=2048, **options)
    try:
        backend = SandboxedBackend(
            release.store_path, EmbeddedBackend.open(release.store_path), pool_address=pool.address
        )
        [steady] = ready_pool(pool)
        yield pool, backend, steady
    finally:
        pool.close()


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """``pid`` (the pool's child, in this process) stopped, as if busy, then let go."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_an_extra_evaluator_starts_for_a_waiting_query_and_leaves_when_idle(
    release: Release,
) -> None:
    """With the steady evaluator busy (stopped), a query waits 50 ms, then an extra one
    starts and answers it; once the steady one is free again it takes the queries, and
    the extra leaves after a second without any, while queries go on."""
    with shared_pool(release, size=3, idle_seconds=1.0) as (pool, backend, steady):
        with stopped(steady):
            answer = backend.execute("ASK { ?s ?p ?o }", by_key("srj"), limits=QUERY_LIMITS)
            assert answer.payload.endswith(b"true}")
            assert len(pool.pids()) == 2
        ends = time.monotonic() + 4
        while time.monotonic() < ends:
            backend.execute("ASK { ?s ?p ?o }", by_key("srj"), limits=QUERY_LIMITS)
            time.sleep(0.15)
        assert pool.pids() == [steady]


def test_a_query_too_big_to_hand_over_at_once_also_gets_an_extra_evaluator(
    release: Release,
) -> None:
    """A query larger than the socket's buffer waits while it is being sent, not for
    its answer: the pool hears of it all the same."""
    with shared_pool(release, size=2) as (pool, backend, steady), stopped(steady):
        big = "ASK { ?s ?p ?o }\n# " + "x" * (4 << 20)
        answer = backend.execute(big, by_key("srj"), limits=QUERY_LIMITS)
        assert answer.payload.endswith(b"true}") and len(pool.pids()) == 2


def test_a_busy_evaluator_is_waited_for_a_little_before_another_starts(
    release: Release,
) -> None:
    """A query arriving while the only evaluator is busy takes it if it comes free within
    ``spawn_after``; if it stays busy longer, a second evaluator starts."""
    with shared_pool(release, size=2, spawn_after=2.0) as (pool, backend, steady):
        os.kill(steady, signal.SIGSTOP)  # the pool's child, in this process
        threading.Timer(0.3, os.kill, args=(steady, signal.SIGCONT)).start()
        started = time.monotonic()
        backend.execute("ASK {}", by_key("srj"), limits=QUERY_LIMITS)
        assert 0.2 < time.monotonic() - started < 2.0
        assert pool.pids(ready_only=False) == [steady]  # no second process: it came free
        with stopped(steady):
            started = time.monotonic()
            backend.execute("ASK {}", by_key("srj"), limits=QUERY_LIMITS)
            assert time.monotonic() - started >= 1.9  # after 2 s, a new one answered
            assert len(pool.pids()) == 2


def test_the_evaluators_setting_sizes_the_pool(settings: Settings, release: Release) -> None:
    backend = endpoint_of(create_app(dataclasses.replace(settings, evaluators=3))).backend()
    try:
        assert isinstance(backend, SandboxedBackend) and backend._pool is not None
        assert backend._pool.size == 3
    finally:
        backend.close()


def test_isolated_evaluators_cannot_connect() -> None:
    """Even a SERVICE call that got past the check could not connect from an evaluator."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    probe = (
        "import socket, sys\n"
        "from lod_publisher.store.sandbox import isolate_network\n"
        "if not isolate_network(): sys.exit(3)\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "except OSError:\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", probe], timeout=60, check=False)
    finally:
        server.close()
    if done.returncode == 3:
        pytest.skip("the kernel refuses a network namespace here")
    assert done.returncode == 0, "an isolated process reached the loopback listener"
