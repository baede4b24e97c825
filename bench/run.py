"""Our site against Oxigraph server, Virtuoso 7 and rdflib-endpoint, side by side in one run.

One build, one query set (bench/queries/*.rq), five systems, all started on 127.0.0.1
first and stopped by their PIDs at the end (Virtuoso serves both its own row and the
"site on Virtuoso" row):

    site-embedded   lod-publisher serve (Granian) over the build's own store
    site-virtuoso   lod-publisher serve --backend remote over Virtuoso (after `load`)
    oxigraph        oxigraph serve-read-only over `oxigraph load` of the store layout
    virtuoso        Virtuoso 7 /sparql, default-graph-uri = {base}graph/merged
    rdflib-endpoint rdflib-endpoint serve (uvicorn) over the build's TriG dump

Measured: median latency of each query (Python client, --repeat runs after one warm-up,
the systems taking turns request by request, so that the shared machine's changes of
speed during the run fall on all of them alike), and again with each request's text
made new by a comment, as a query asked for the first time; requests per second with wrk at
concurrency 1 and 8 (--duration seconds each, one system at a time) for
dereferencing an entity (our site: its HTML and Turtle documents; the stores: our
description CONSTRUCT as a GET with Accept: text/turtle) and for a small SELECT; build
and load times; the resident memory of each server's process tree while it was measured
(peak sums of RSS and PSS, and the distinct physical pages it holds).
Writes a Markdown report (--out). Needs wrk (apt-get install -y wrk), the stores
(tests/install_stores.sh) and rdflib-endpoint + uvicorn in the venv.

    .venv/bin/python bench/run.py --out bench/results/shipped.md
    .venv/bin/python bench/generate.py --triples 100000 --out /tmp/g100k
    .venv/bin/python bench/run.py --source-dir /tmp/g100k --out bench/results/100k.md
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import psutil
import pyoxigraph as ox

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.conftest import free_port  # noqa: E402
from tests.stores import oxigraph_command, start_oxigraph, start_virtuoso  # noqa: E402

from lod_publisher import queries  # noqa: E402
from lod_publisher.releases import Release, current_release  # noqa: E402
from lod_publisher.store.loading import load, write_layout  # noqa: E402
from lod_publisher.store.remote import StoreLayout  # noqa: E402

BIN = Path(sys.executable).parent
QUERIES = PROJECT / "bench" / "queries"
SELECT_JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
SYSTEMS = ("site-embedded", "site-virtuoso", "oxigraph", "virtuoso", "rdflib-endpoint")
SMALL_SELECT = "SELECT ?p ?o WHERE { $entity ?p ?o } LIMIT 10"


# --- the query set -------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    name: str
    text: str

    @property
    def accept(self) -> str:
        return TURTLE if re.search(r"^\s*CONSTRUCT", self.text, re.M) else SELECT_JSON


def iri(value: str) -> str:
    """An IRI in query text; refuses one that could end the IRI early."""
    if any(c in value for c in '<>"{}|^`\\ '):
        raise ValueError(f"unsafe IRI {value!r}")
    return f"<{value}>"


def literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def query_set(params: dict[str, str]) -> list[Query]:
    """bench/queries/NN-name.rq with $base, $entity, $label, $place, $word filled in."""
    found = []
    for path in sorted(QUERIES.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        for key in sorted(params, key=len, reverse=True):
            text = text.replace("$" + key, params[key])
        found.append(Query(path.stem.split("-", 1)[1], text))
    return found


def choose_parameters(release: Release, count: int) -> tuple[dict[str, str], list[str]]:
    """The entity the queries are about (the most linked-to labelled one), and ``count``
    labelled entities for dereferencing (a sample of every kind: ordered by the MD5 of
    their IRI), all read from the build's own store."""
    store = ox.Store.read_only(str(release.store_path))
    space = release.base_uri + "id/"
    rdfs_label = "http://www.w3.org/2000/01/rdf-schema#label"

    def select(text: str) -> list[ox.QuerySolution]:
        return list(store.query(text))  # type: ignore[arg-type]

    top = select(
        f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o . ?o <{rdfs_label}> ?l "
        f'FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{space}")) }} GROUP BY ?o ORDER BY DESC(?n) ?o LIMIT 1'
    )
    entity = top[0]["o"].value
    label = select(f"SELECT ?l WHERE {{ <{entity}> <{rdfs_label}> ?l }} ORDER BY ?l LIMIT 1")[0][
        "l"
    ]
    place_rows = select(
        f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ ?s <{release.base_uri}ontology/locatedIn> ?o }} "
        "GROUP BY ?o ORDER BY DESC(?n) ?o LIMIT 1"
    )
    place = place_rows[0]["o"].value if place_rows else entity
    words = sorted((w for w in re.findall(r"\w{4,}", label.value.lower())), key=len, reverse=True)
    entities = [
        r["s"].value
        for r in select(
            f"SELECT DISTINCT ?s WHERE {{ ?s <{rdfs_label}> ?l "
            f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }} ORDER BY MD5(STR(?s)) LIMIT {count}'
        )
    ]
    lang = f"@{label.language}" if label.language else ""
    params = {
        "base": release.base_uri,
        "entity": iri(entity),
        "place": iri(place),
        "label": literal(label.value) + lang,
        "word": literal(words[0] if words else "a"),
    }
    return params, entities


# --- systems -------------------------------------------------------------------------


@dataclass
class System:
    """One server under test: how to send it a SPARQL query and how to dereference."""

    name: str
    pid: int
    base: str  # http://127.0.0.1:PORT
    sparql_path: str
    extra: dict[str, str] = field(default_factory=dict)  # e.g. default-graph-uri
    is_site: bool = False
    notes: list[str] = field(default_factory=list)

    def sparql_get(self, text: str) -> str:
        return f"{self.sparql_path}?{urlencode({'query': text, **self.extra})}"

    def deref_paths(
        self, release: Release, entities: list[str]
    ) -> dict[str, tuple[list[str], str]]:
        """Per document kind, the request paths (one per entity) and the Accept header."""
        if self.is_site:
            names = [e[len(release.base_uri) :] for e in entities]
            return {
                "html": ([f"/doc/{quote(n)}.html" for n in names], "text/html"),
                "ttl": ([f"/doc/{quote(n)}.ttl" for n in names], TURTLE),
            }
        return {
            "ttl": ([self.sparql_get(queries.describe(e)) for e in entities], TURTLE),
            "describe": ([self.sparql_get(f"DESCRIBE {iri(e)}") for e in entities], TURTLE),
        }


def tree_memory(pid: int) -> tuple[int, int]:
    """Resident and proportional (PSS) bytes of a process and all its descendants.

    RSS counts a page shared by several processes (forked workers, libraries) once per
    process; PSS divides it among them, so the tree's PSS is the memory it really holds.
    (0, 0) once it is gone.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    rss = pss = 0
    for p in procs:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = p.memory_full_info()
            rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
    return rss, pss


_PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_PFN = (1 << 55) - 1


def tree_unique_bytes(pid: int) -> int | None:
    """Bytes of the distinct physical pages resident for a process and its descendants.

    What the tree really occupies, each page counted once however many of its processes
    map it, read from ``/proc/PID/pagemap`` (page frame numbers; root only: None
    otherwise, and None once the tree is gone).
    """
    if os.geteuid() != 0:
        return None
    try:
        root = psutil.Process(pid)
        pids = [pid, *(c.pid for c in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return None
    frames: set[int] = set()
    for member in pids:
        with suppress(OSError), Path(f"/proc/{member}/pagemap").open("rb") as pagemap:
            for start, end in _resident_mappings(member):
                with suppress(OSError):
                    pagemap.seek(start // _PAGE * 8)
                    data = pagemap.read((end - start) // _PAGE * 8)
                    for (entry,) in struct.iter_unpack("<Q", data):
                        if entry & _PRESENT and entry & _PFN:
                            frames.add(entry & _PFN)
    return len(frames) * _PAGE if frames else None


def _resident_mappings(pid: int) -> Iterator[tuple[int, int]]:
    """The address ranges of ``pid``'s mappings that have resident pages (from smaps)."""
    span: tuple[int, int] | None = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(None, 1)[0]
        if "-" in first and not first.endswith(":"):
            low, high = first.split("-")
            span = (int(low, 16), int(high, 16))
        elif first == "Rss:" and span is not None and line.split()[1] != "0":
            yield span


@contextmanager
def peak_memory(pid: int, period: float = 0.2) -> Iterator[list[int]]:
    """Sample ``pid``'s tree every ``period`` s; peak RSS in ``out[0]``, peak PSS in ``out[1]``.

    ``out[2]``: the tree's distinct resident pages (:func:`tree_unique_bytes`) at the end
    only, as reading every page table takes the client's CPU (0 if unknown). The stores'
    and our processes' memory are mostly caches that only grow while measured.
    """
    out = [*tree_memory(pid), 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(period):
            rss, pss = tree_memory(pid)
            out[0], out[1] = max(out[0], rss), max(out[1], pss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        rss, pss = tree_memory(pid)
        out[0], out[1] = max(out[0], rss), max(out[1], pss)
        out[2] = tree_unique_bytes(pid) or 0


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url}: exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s:\n{log.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spawn(command: list[str], log: Path, ready_url: str, seconds: float, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start ``command`` without the caller's LOD_* variables (plus ``extra_env``); wait for it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOD_")} | (extra_env or {})
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    wait_ready(process, ready_url, log, seconds)
    return process


def ask_url(base: str, path: str, extra: dict[str, str] | None = None) -> str:
    return f"{base}{path}?{urlencode({'query': 'ASK {}', **(extra or {})})}"


# --- measurements --------------------------------------------------------------------


def fetch(conn: http.client.HTTPConnection, path: str, accept: str) -> tuple[int, bytes]:
    """GET ``path``; once more on a new connection if the server closed the idle one.

    Servers close keep-alive connections idle for a few seconds (uvicorn after 5 s),
    which happens while the other systems take their turns.
    """
    for attempt in (1, 2):
        try:
            conn.request("GET", path, headers={"Accept": accept})
            reply = conn.getresponse()
            return reply.status, reply.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()  # the next request opens a new connection
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def result_size(body: bytes, accept: str) -> int:
    if accept == TURTLE:
        return len(list(ox.parse(body, format=ox.RdfFormat.TURTLE)))
    return len(json.loads(body)["results"]["bindings"])


def latencies(systems: list[System], query_list: list[Query], repeat: int, budget: float, fresh: bool = False) -> dict[str, dict[str, tuple[float, int]]]:  # fmt: skip
    """Per system and query: the median of ``repeat`` timed runs (ms) and the result's size.

    ``fresh``: every request's text ends in a comment of its own, so that no system has
    seen the query before (our sites send the answer to a request they have answered
    before again from their result cache; our embedded site runs a query it has seen
    answered quickly in the worker, one it has not in an evaluator process).

    The systems take turns, one request each per round (the order rotating), so that a
    change in the shared machine's speed during the run affects every system alike: the
    ratios compare like with like. A system whose runs of a query have taken ``budget``
    seconds stops early, after at least 3 runs; the others go on.
    """
    conns = {}
    for system in systems:
        host = urlsplit(system.base)
        conns[system.name] = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    out: dict[str, dict[str, tuple[float, int]]] = {system.name: {} for system in systems}
    numbers = itertools.count()

    def text(q: Query) -> str:
        return f"{q.text}\n# request {next(numbers)}" if fresh else q.text

    for q in query_list:
        samples: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for system in systems:
            try:
                status, body = fetch(conns[system.name], system.sparql_get(text(q)), q.accept)
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc).encode()
            if status != 200:  # warm-up, and the result to count
                system.notes.append(f"{q.name}: HTTP {status} {body[:200]!r}")
                out[system.name][q.name] = (float("nan"), -1)
                continue
            samples[system.name], sizes[system.name] = [], result_size(body, q.accept)
        for turn in itertools.count():
            active = [
                s
                for s in systems
                if s.name in samples
                and len(samples[s.name]) < repeat
                and (len(samples[s.name]) < 3 or sum(samples[s.name]) < budget)
            ]
            if not active:
                break
            shift = turn % len(active)
            for system in active[shift:] + active[:shift]:
                path = system.sparql_get(text(q))
                started = time.perf_counter()
                try:
                    fetch(conns[system.name], path, q.accept)
                except (OSError, http.client.HTTPException) as exc:  # it goes on without
                    system.notes.append(f"{q.name}: failed after {len(samples[system.name])} runs: {exc!r}")  # fmt: skip
                    del samples[system.name]
                    out[system.name][q.name] = (float("nan"), -1)
                    continue
                samples[system.name].append(time.perf_counter() - started)
        for name, taken in samples.items():
            if len(taken) < repeat:
                next(s for s in systems if s.name == name).notes.append(
                    f"{q.name}: {len(taken)} runs (time budget {budget:g} s)"
                )
            out[name][q.name] = (statistics.median(taken) * 1000, sizes[name])
    for conn in conns.values():
        conn.close()
    return out


def first_requests(system: System, paths: list[str], accept: str, budget: float) -> float:
    """Median latency (ms) of the first request for each entity (nothing cached yet),
    stopping after ``budget`` seconds (at least 3 entities)."""
    host = urlsplit(system.base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    samples: list[float] = []
    for path in paths:
        if len(samples) >= 3 and sum(samples) >= budget:
            system.notes.append(f"first requests ({accept}): {len(samples)} entities (time budget {budget:g} s)")  # fmt: skip
            break
        started = time.perf_counter()
        status, _ = fetch(conn, path, accept)
        samples.append(time.perf_counter() - started)
        if status != 200:
            system.notes.append(f"dereference {path[:80]}: HTTP {status}")
    conn.close()
    return statistics.median(samples) * 1000


WRK_SCRIPT = """\
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Accept"] = "%s"})
end
"""


def wrk(system: System, paths: list[str], accept: str, connections: int, duration: float, work: Path) -> tuple[float, str]:  # fmt: skip
    """Requests per second, and any errors wrk reports, cycling over ``paths``."""
    script = work / f"wrk-{system.name}-{connections}-{abs(hash(accept))}.lua"
    script.write_text(WRK_SCRIPT % (", ".join(json.dumps(p) for p in paths), accept))
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script), system.base]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)  # fmt: skip
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = "; ".join(
        line.strip()
        for line in done.stdout.splitlines()
        if "Non-2xx" in line or "Socket errors" in line
    )
    return (float(found.group(1)) if found else float("nan")), errors


@dataclass
class Measured:
    latency: dict[str, tuple[float, int]] = field(default_factory=dict)
    fresh_latency: dict[str, tuple[float, int]] = field(default_factory=dict)  # never seen
    first: dict[str, float] = field(default_factory=dict)  # doc kind -> ms
    rps: dict[tuple[str, int], float] = field(default_factory=dict)  # (html|ttl|select, c) -> rps
    errors: list[str] = field(default_factory=list)
    peak_rss: int = 0
    peak_pss: int = 0
    unique: int = 0  # distinct resident pages of the tree at the end of a phase, bytes
    setup: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def measure_load(system: System, release: Release, entities: list[str], small_select: str, args: argparse.Namespace, work: Path, m: Measured) -> None:  # fmt: skip
    """The first requests (nothing cached) and the wrk runs, this system alone."""
    print(f"[{system.name}] measuring", flush=True)
    docs = system.deref_paths(release, entities)
    for kind, (paths, accept) in docs.items():
        if kind == "describe":
            continue
        # HTML and Turtle share the site's cached description: each gets its own half.
        cold = paths[0::2] if kind == "html" else paths[1::2]
        m.first[kind] = first_requests(system, cold, accept, args.budget)
    select_path = system.sparql_get(small_select)
    runs = [(kind, paths, accept) for kind, (paths, accept) in docs.items()]
    # One entity over and over: what a cache (ours, or a store's own) makes of it.
    runs += [(f"{kind}-one", paths[:1], accept) for kind, (paths, accept) in docs.items()]
    runs.append(("select", [select_path], SELECT_JSON))
    for kind, paths, accept in runs:
        for c in (1, 8):
            rps, errors = wrk(system, paths, accept, c, args.duration, work)
            m.rps[(kind, c)] = rps
            if errors:
                m.errors.append(f"{kind} c={c}: {errors}")
            print(f"[{system.name}] {kind} c={c}: {rps:.1f} req/s {errors}", flush=True)


# --- the run -------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def virtuoso_bulk_load(folder: Path, layout: Path, commands: list[str]) -> None:
    """Virtuoso's own bulk loader over the store layout (the quads `lod-publisher load` puts).

    For builds whose graphs are too many to PUT one by one in a benchmark's time (80,000 at
    1M triples); the loaded store is the same. ``layout`` lies in the INI's DirsAllowed.
    """
    ini = (folder / "virtuoso.ini").read_text(encoding="utf-8")
    found = re.search(r"\[Parameters\][^\[]*?ServerPort\s*=\s*(\S+)", ini)
    if found is None:
        raise RuntimeError(f"no [Parameters] ServerPort in {folder / 'virtuoso.ini'}")
    script = (
        f"ld_dir('{layout.parent}', '{layout.name}', 'urn:lod-publisher:default');\n"
        "rdf_loader_run();\ncheckpoint;\n"
        "SELECT ll_file, ll_error FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;\n"
    )
    command = ["isql-vt", found.group(1), "dba", "dba"]
    lines = " ".join(shlex.quote(line) for line in script.splitlines())
    commands.append(f"printf '%s\\n' {lines} | {shlex.join(command)}")
    done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=3600, check=True)  # fmt: skip
    # isql goes on after an error; a file that failed to load is listed by the last SELECT.
    if "*** Error" in done.stdout or "\n0 Rows." not in done.stdout:
        raise RuntimeError(f"Virtuoso's bulk load failed:\n{done.stdout[-2000:]}")


def site_command(build_dir: Path, port: int, extra: list[str]) -> list[str]:
    return [str(BIN / "lod-publisher"), "serve", "--build-dir", str(build_dir), "--host", "127.0.0.1", "--port", str(port), *extra]  # fmt: skip


def run(args: argparse.Namespace) -> str:
    work = Path(tempfile.mkdtemp(prefix="lod-bench-"))
    commands: list[str] = []
    setup: dict[str, float] = {}
    if args.build_dir:
        build_dir = args.build_dir
    else:
        build_dir = work / "build"
        port = free_port()
        command = [str(BIN / "lod-publisher"), "build", "--source-dir", str(args.source_dir), "--build-dir", str(build_dir), "--base-uri", f"http://127.0.0.1:{port}/"]  # fmt: skip
        print("building:", shlex.join(command), flush=True)
        setup["build (lod-publisher build)"] = timed(lambda: subprocess.run(command, check=True, capture_output=True))  # fmt: skip
        commands.append(shlex.join(command))
    release = current_release(build_dir)
    triples, quads, graphs = (release.manifest[k] for k in ("triples", "quads", "graphs"))
    print(
        f"build {release.build_id}: {triples} triples, {quads} quads, {graphs} graphs", flush=True
    )
    params, entities = choose_parameters(release, args.entities)
    query_list = query_set(params)
    small_select = SMALL_SELECT.replace("$entity", params["entity"])
    merged = {"default-graph-uri": StoreLayout(release.base_uri).merged}
    site_extra = [f"--workers={args.workers}", *args.serve_arg]
    site_env = dict(pair.split("=", 1) for pair in args.site_env)
    env_prefix = "".join(f"{k}={shlex.quote(v)} " for k, v in site_env.items())
    results: dict[str, Measured] = {}
    failures: list[str] = []
    wanted = set(args.systems)
    running: list[System] = []
    stack = ExitStack()  # stops every server at the end, the last started first

    def record(system: System, process_stop: Callable[[], None], extra_setup: dict[str, float]) -> None:  # fmt: skip
        stack.callback(process_stop)
        running.append(system)
        results[system.name] = Measured(setup=extra_setup)

    def attempt(name: str, action: Callable[[], None]) -> None:
        """Run one system's part; a failure is reported, and the other systems still run."""
        try:
            action()
        except Exception as exc:  # reported in the Markdown; the run goes on
            print(f"[{name}] failed: {exc!r}", flush=True)
            failures.append(f"- {name}: failed: {str(exc)[:500]}")
            results.pop(name, None)
            running[:] = [s for s in running if s.name != name]

    def site_embedded() -> None:
        port = urlsplit(release.base_uri).port or free_port()
        command = site_command(build_dir, port, site_extra)
        commands.append(env_prefix + shlex.join(command))
        started = time.perf_counter()
        process = spawn(command, work / "site-embedded.log", ask_url(f"http://127.0.0.1:{port}", "/sparql"), 120, site_env)  # fmt: skip
        ready = time.perf_counter() - started
        system = System("site-embedded", process.pid, f"http://127.0.0.1:{port}", "/sparql", is_site=True)  # fmt: skip
        record(system, lambda: stop_process(process), {"start until ready": ready})

    def oxigraph_part() -> None:
        layout = work / "layout.nq"
        t_layout = timed(lambda: write_layout(release, layout))
        command = [oxigraph_command(), "load", "--location", str(work / "ox-db"), "--file", str(layout)]  # fmt: skip
        t_load = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        commands.append(shlex.join(command))
        started = time.perf_counter()
        server = start_oxigraph(work / "ox-db", read_only=True)
        ready = time.perf_counter() - started
        commands.append(shlex.join(server.process.args))  # type: ignore[arg-type]
        base = server.query_url.rsplit("/", 1)[0]
        system = System("oxigraph", server.process.pid, base, "/query", merged)
        record(system, server.stop, {"write layout.nq": t_layout, "oxigraph load": t_load, "start until ready": ready})  # fmt: skip

    def virtuoso_part() -> None:
        started = time.perf_counter()
        vt = start_virtuoso(work / "virtuoso")
        stack.callback(vt.stop)
        ready = time.perf_counter() - started
        commands.append(f"virtuoso-t +foreground +configfile {work / 'virtuoso' / 'virtuoso.ini'}  # INI of tests/stores.py")  # fmt: skip
        if args.virtuoso_load == "http":
            t_load = timed(lambda: load(release, vt.store_url, credentials=vt.credentials, timeout=600))  # fmt: skip
            commands.append(f"lod-publisher load --build-dir {build_dir} --endpoint {vt.store_url} --user dba --password dba")  # fmt: skip
            vt_setup = {"start (fresh db) until ready": ready, "lod-publisher load (HTTP)": t_load}  # fmt: skip
        else:
            layout = work / "virtuoso" / "load" / "layout.nq"
            t_layout = timed(lambda: write_layout(release, layout))
            t_load = timed(lambda: virtuoso_bulk_load(work / "virtuoso", layout, commands))
            vt_setup = {"start (fresh db) until ready": ready, "write layout.nq": t_layout, "bulk load (ld_dir, rdf_loader_run, checkpoint)": t_load}  # fmt: skip
        vbase = vt.query_url.rsplit("/", 1)[0]
        if "virtuoso" in wanted:
            system = System("virtuoso", vt.process.pid, vbase, "/sparql", merged)
            record(system, lambda: None, vt_setup)
        if "site-virtuoso" in wanted:
            port = free_port()
            command = site_command(build_dir, port, [*site_extra, "--backend", "remote", "--endpoint", vt.query_url])  # fmt: skip
            commands.append(env_prefix + shlex.join(command))
            started = time.perf_counter()
            process = spawn(command, work / "site-virtuoso.log", ask_url(f"http://127.0.0.1:{port}", "/sparql"), 120, site_env)  # fmt: skip
            ready = time.perf_counter() - started
            system = System("site-virtuoso", process.pid, f"http://127.0.0.1:{port}", "/sparql", is_site=True)  # fmt: skip
            system.notes.append("peak memory: our server only; Virtuoso's is in its own row")
            record(system, lambda: stop_process(process), {"start until ready": ready})

    def rdflib_part() -> None:
        trig = release.dumps_path / "commemoration.trig"
        port = free_port()
        command = [str(BIN / "rdflib-endpoint"), "serve", "--host", "127.0.0.1", "--port", str(port), str(trig)]  # fmt: skip
        commands.append(shlex.join(command))
        started = time.perf_counter()
        process = spawn(command, work / "rdflib-endpoint.log", ask_url(f"http://127.0.0.1:{port}", "/"), args.rdflib_timeout)  # fmt: skip
        ready = time.perf_counter() - started
        system = System("rdflib-endpoint", process.pid, f"http://127.0.0.1:{port}", "/")
        record(system, lambda: stop_process(process), {"parse TriG dump, start until ready": ready})  # fmt: skip

    try:
        with stack:
            # Every system is started (and loaded) first and stays up to the end: ...
            if "site-embedded" in wanted:
                attempt("site-embedded", site_embedded)
            if "oxigraph" in wanted:
                attempt("oxigraph", oxigraph_part)
            if wanted & {"virtuoso", "site-virtuoso"}:
                attempt("virtuoso", virtuoso_part)
            if "rdflib-endpoint" in wanted:
                attempt("rdflib-endpoint", rdflib_part)
            # ... the load tests need the machine to one system at a time ...
            for system in list(running):
                m = results[system.name]

                def load_phase(system: System = system, m: Measured = m) -> None:
                    with peak_memory(system.pid) as peak:
                        measure_load(system, release, entities, small_select, args, work, m)
                    m.peak_rss, m.peak_pss, m.unique = peak

                attempt(system.name, load_phase)
            # ... and the query latencies are measured in turns, every system in each round.
            print(f"[{', '.join(s.name for s in running)}] query latencies, in turns", flush=True)
            with ExitStack() as sampling:
                peaks = {s.name: sampling.enter_context(peak_memory(s.pid)) for s in running}
                measured = latencies(running, query_list, args.repeat, args.budget)
                print(f"[{', '.join(s.name for s in running)}] the same, each query text new", flush=True)  # fmt: skip
                fresh = latencies(running, query_list, args.repeat, args.budget, fresh=True)
            for system in running:
                m = results[system.name]
                m.latency = measured[system.name]
                m.fresh_latency = fresh[system.name]
                m.peak_rss = max(m.peak_rss, peaks[system.name][0])
                m.peak_pss = max(m.peak_pss, peaks[system.name][1])
                m.unique = max(m.unique, peaks[system.name][2])
                m.notes = system.notes

        return report(
            args, release, params, query_list, small_select, results, setup, commands, failures
        )
    finally:
        if not args.keep_work:
            tidy(work)
        print(f"servers' logs: {work}", flush=True)


_DATA_COPIES = ("layout.nq", "ox-db", "virtuoso/db", "virtuoso/load", "build")


def tidy(work: Path) -> None:
    """Delete the stores' copies of the data (about 2 GB at 1M triples); keep the logs."""
    for name in _DATA_COPIES:
        path = work / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


# --- the report ----------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "–" if value != value else f"{value:.{digits}f}"  # NaN → dash


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs and theirs == theirs and ours == ours else float("nan")


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(args: argparse.Namespace, release: Release, params: dict[str, str], query_list: list[Query], small_select: str, results: dict[str, Measured], setup: dict[str, float], commands: list[str], failures: list[str]) -> str:  # fmt: skip
    names = [s for s in SYSTEMS if s in results]
    m = release.manifest
    mem = psutil.virtual_memory().total / 2**30
    lines = [
        f"## Run of {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}: {m['triples']} triples",
        "",
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{mem:.1f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}; "
        "load generator and servers share the machine.",
        f"Data: build `{release.build_id}`, {m['triples']} triples in the merged default graph, "
        f"{m['quads']} quads in {m['graphs']} named graphs, base `{release.base_uri}`.",
        f"Query parameters: entity {params['entity']}, place {params['place']}, label {params['label']}, word {params['word']}.",
        f"Settings: --repeat {args.repeat} (--budget {args.budget:g} s per query), wrk --duration {args.duration:g}s (threads = min(2, connections)), "
        f"{args.entities} entities for dereferencing, our site `--workers={args.workers}` {' '.join(args.serve_arg)} {' '.join(args.site_env)}.",
        "",
        "### Median latency per query, ms (result size: rows or triples)",
        "",
        "The same request each time: after the first, our sites send the answer they kept "
        "(`result_cache_mb`); the stores run the query again.",
        "",
        "| query | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for q in query_list:
        cells = [
            f"{fmt(results[n].latency[q.name][0], 2)} ({results[n].latency[q.name][1]})"
            for n in names
        ]
        lines.append(f"| {q.name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Median latency per query asked for the first time, ms",
        "",
        "Each request's text ends in a comment of its own (`# request N`), so no system has "
        "seen it before. Our embedded site then runs every query in an evaluator process; "
        "asked again, a query comes from the result cache (the table above) or, when its "
        "answer was not kept, runs in the worker itself if an evaluator answered it within "
        "`quick_query_ms`.",
        "",
        "| query | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for q in query_list:
        cells = [fmt(results[n].fresh_latency.get(q.name, (float("nan"), -1))[0], 2) for n in names]
        lines.append(f"| {q.name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Requests per second (wrk)",
        "",
        "Dereference: our site's `/doc/….html` and `/doc/….ttl`; for the stores, our description "
        "CONSTRUCT (`queries.describe`) of the entity as a GET of their SPARQL endpoint with "
        '`Accept: text/turtle` (they have no HTML), and their own plain `DESCRIBE`. "Cycling" runs '
        'request the sample entities in turn, "one entity" runs the first of them. '
        "Small SELECT: `" + small_select + "`.",
        "",
        "| request | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    rows = (
        ("html", "dereference HTML, cycling over the entities"),
        ("ttl", "dereference Turtle, cycling over the entities"),
        ("html-one", "dereference HTML, one entity"),
        ("ttl-one", "dereference Turtle, one entity"),
        ("describe", "stores: plain DESCRIBE, cycling over the entities"),
        ("describe-one", "stores: plain DESCRIBE, one entity"),
        ("select", "/sparql small SELECT"),
    )
    for kind, label in rows:
        for c in (1, 8):
            cells = [fmt(results[n].rps.get((kind, c), float("nan"))) for n in names]
            lines.append(f"| {label}, c={c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "First request per entity (median, ms; HTML over the even-numbered entities, Turtle over the odd ones, so neither finds the other's cached description; our site then caches the document):",
        "",
        "| document | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for kind in ("html", "ttl"):
        cells = [fmt(results[n].first.get(kind, float("nan")), 2) for n in names]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "### Build, load and memory", "", "| system | step | seconds |", "|---|---|---:|"]
    for step, seconds in setup.items():
        lines.append(f"| site | {step} | {seconds:.2f} |")
    for n in names:
        for step, seconds in results[n].setup.items():
            lines.append(f"| {n} | {step} | {seconds:.2f} |")
    lines += ["", "| system | peak memory of the process tree while measured: sum of RSS, MB | sum of PSS, MB | distinct resident pages at the end of a phase, MB |", "|---|---:|---:|---:|"]  # fmt: skip
    for n in names:
        m = results[n]
        lines.append(f"| {n} | {m.peak_rss / 2**20:.0f} | {m.peak_pss / 2**20:.0f} | {m.unique / 2**20 if m.unique else float('nan'):.0f} |")  # fmt: skip
    lines += targets(query_list, results)
    problems = failures + [
        f"- {n}: {e}" for n in names for e in results[n].errors + results[n].notes
    ]
    if problems:
        lines += ["", "### Errors and notes", "", *problems]
    lines += ["", "### Commands", "", "```sh", *commands, "```", ""]
    return "\n".join(lines)


def targets(query_list: list[Query], r: dict[str, Measured]) -> list[str]:
    out = ["", "### Targets (ratios from this run)", "", "| target | ratio | |", "|---|---:|---|"]
    ours = r.get("site-embedded")
    if ours is not None:
        for kind in ("ttl", "html"):
            for other, want in (("virtuoso", 2.0), ("rdflib-endpoint", 10.0), ("oxigraph", 0.5)):
                if other in r:
                    for suffix, what in (("", "cycling over the entities"), ("-one", "one entity")):
                        for k, doc in (
                            ("ttl", "description CONSTRUCT"),
                            ("describe", "plain DESCRIBE"),
                        ):
                            theirs = r[other].rps.get((k + suffix, 8), float("nan"))
                            x = ratio(ours.rps.get((kind + suffix, 8), float("nan")), theirs)
                            out.append(f"| dereference {kind} c=8, {what}: site-embedded / {other} {doc} ≥ {want:g}× | {fmt(x, 2)}× | {verdict(x >= want)} |")  # fmt: skip
        if "oxigraph" in r:
            for q in query_list:
                x = ratio(ours.latency[q.name][0], r["oxigraph"].latency[q.name][0])
                out.append(f"| /sparql {q.name}: site-embedded / oxigraph median ≤ 1.2× | {fmt(x, 2)}× | {verdict(x <= 1.2)} |")  # fmt: skip
        mb, pss, unique = ours.peak_rss / 2**20, ours.peak_pss / 2**20, ours.unique / 2**20
        out.append(f"| site-embedded memory < 400 MB (peak sum of RSS; of PSS; distinct resident pages) | {mb:.0f}; {pss:.0f}; {unique:.0f} MB | RSS {verdict(mb < 400)}, PSS {verdict(pss < 400)}, distinct {verdict(0 < unique < 400)} |")  # fmt: skip
    if "site-virtuoso" in r and "virtuoso" in r:
        for q in query_list:
            x = ratio(r["site-virtuoso"].latency[q.name][0], r["virtuoso"].latency[q.name][0])
            out.append(f"| /sparql {q.name}: site-virtuoso / virtuoso median ≤ 1.2× | {fmt(x, 2)}× | {verdict(x <= 1.2)} |")  # fmt: skip
    return out


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`, which stops the servers


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_signal)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=PROJECT, help="project folder to build (default: this repository)")  # fmt: skip
    parser.add_argument("--build-dir", type=Path, help="use this published build instead of building")  # fmt: skip
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per query and system")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of timed runs per query and system, at most")  # fmt: skip
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--entities", type=int, default=50, help="entities to dereference")
    parser.add_argument("--workers", type=int, default=2, help="our server's worker processes")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `lod-publisher serve` argument (repeatable)")  # fmt: skip
    parser.add_argument("--site-env", action="append", default=[], metavar="LOD_NAME=VALUE", help="environment variable for our server (repeatable), e.g. LOD_THREADS=4")  # fmt: skip
    parser.add_argument("--rdflib-timeout", type=float, default=900, help="seconds rdflib-endpoint may take to load")  # fmt: skip
    parser.add_argument("--virtuoso-load", choices=["http", "bulk"], default="http", help="fill Virtuoso with `lod-publisher load` (Graph Store Protocol, one request per graph) or its own bulk loader over the same quads")  # fmt: skip
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument("--keep-work", action="store_true", help="keep the stores' data in the work folder (by default only the servers' logs stay)")  # fmt: skip
    args = parser.parse_args()
    text = run(args)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
