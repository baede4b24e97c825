"""Real triple stores for the tests: Oxigraph server and Virtuoso 7, on 127.0.0.1 only.

``tests/install_stores.sh`` installs both (``./dev test`` runs it). A fixture whose store
is missing fails, naming the command that installs it. Each server runs in a temporary
folder, is waited for with a bounded loop, and is stopped by its PID.

Import the fixtures a test module uses from here.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from tests.conftest import free_port

from lod_publisher.releases import Release
from lod_publisher.store.http import Credentials
from lod_publisher.store.loading import load, write_layout

OXIGRAPH_VERSION = "0.5.13"
INSTALL = "run tests/install_stores.sh (./dev test does)"
VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
DisableUnixSocket        = 1
MaxClientConnections     = 10
CheckpointInterval       = 60
CaseMode                 = 2
DirsAllowed              = ., {load}
NumberOfBuffers          = 20000
MaxDirtyBuffers          = 15000

[HTTPServer]
ServerPort               = 127.0.0.1:{http_port}
ServerRoot               = {root}
ServerThreads            = 10
MaxClientConnections     = 10
Charset                  = UTF-8

[SPARQL]
; Virtuoso silently cuts results at ResultSetMaxRows (10000 in its sample INI).
ResultSetMaxRows           = 1000000
MaxQueryExecutionTime      = 120
MaxQueryCostEstimationTime = 400
"""


@dataclass
class StoreServer:
    """A store we started: where it answers queries and takes graphs, and its log."""

    name: str
    process: subprocess.Popen[bytes]
    query_url: str
    store_url: str  # SPARQL 1.1 Graph Store HTTP Protocol
    log: Path
    credentials: Credentials | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def oxigraph_command() -> str:
    """The ``oxigraph`` CLI of the PyPI package, beside this Python; fail if missing."""
    command = Path(sys.executable).parent / "oxigraph"
    if not command.is_file():
        pytest.fail(f"Oxigraph server (PyPI oxigraph=={OXIGRAPH_VERSION}) is not installed: {INSTALL}")  # fmt: skip
    found = subprocess.run([command, "--version"], capture_output=True, text=True, check=False)
    if found.stdout.strip() != f"oxigraph {OXIGRAPH_VERSION}":
        pytest.fail(f"{command} is {found.stdout.strip()!r}, not oxigraph {OXIGRAPH_VERSION}: {INSTALL}")  # fmt: skip
    return str(command)


def virtuoso_command() -> str:
    command = shutil.which("virtuoso-t")
    if command is None:
        pytest.fail(f"Virtuoso 7 (Debian package virtuoso-opensource) is not installed: {INSTALL}")  # fmt: skip
    return command


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    """Poll ``url`` until it answers 200, the process dies, or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    pytest.fail(f"{url} did not answer within {seconds:g} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"


def _ask_url(query_url: str) -> str:
    return f"{query_url}?{urlencode({'query': 'ASK {}'})}"


def start_oxigraph(location: Path, *, read_only: bool) -> StoreServer:
    """``oxigraph serve`` (or ``serve-read-only``) on a free loopback port.

    No ``--timeout-s``: in 0.5.13 it starts a thread per query that lives for the whole
    timeout, so under load queries fail with "os error 11". The client keeps the deadline.
    """
    port = free_port()
    log = location.parent / f"oxigraph-{port}.log"
    verb = "serve-read-only" if read_only else "serve"
    command = [oxigraph_command(), verb, "--location", str(location), "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    server = StoreServer("oxigraph", process, f"{base}/query", f"{base}/store", log)
    wait_until_ready(process, _ask_url(server.query_url), log, 30)
    return server


def start_virtuoso(folder: Path) -> StoreServer:
    """``virtuoso-t +foreground`` with its own INI and a fresh database in ``folder``.

    Graphs are loaded over HTTP with our loader, through the Graph Store endpoint
    ``/sparql-graph-crud-auth`` with Digest authentication as ``dba`` (a fresh database's
    password is ``dba``); ``/sparql`` stays read-only for the anonymous SPARQL user.
    """
    command = virtuoso_command()
    sql_port, http_port = free_port(), free_port()
    for name in ("db", "load", "root"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    ini = folder / "virtuoso.ini"
    ini.write_text(
        VIRTUOSO_INI.format(
            db=folder / "db",
            load=folder / "load",
            root=folder / "root",
            sql_port=sql_port,
            http_port=http_port,
        ),
        encoding="utf-8",
    )
    log = folder / "virtuoso-stdout.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [command, "+foreground", "+configfile", str(ini)],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{http_port}"
    server = StoreServer(
        "virtuoso",
        process,
        f"{base}/sparql",
        f"{base}/sparql-graph-crud-auth",
        log,
        Credentials("dba", "dba"),
    )
    wait_until_ready(process, _ask_url(server.query_url), log, 90)
    return server


@pytest.fixture(scope="session")
def oxigraph_store(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:  # fmt: skip
    """Oxigraph holding the session's build: bulk-loaded offline, served read-only."""
    folder = tmp_path_factory.mktemp("oxigraph")
    started = time.monotonic()
    layout = write_layout(release, folder / "layout.nq")
    written = time.monotonic()
    subprocess.run(
        [oxigraph_command(), "load", "--location", str(folder / "db"), "--file", str(layout)],
        check=True,
        capture_output=True,
    )
    loaded = time.monotonic()
    server = start_oxigraph(folder / "db", read_only=True)
    server.timings.update(write_layout=written - started, bulk_load=loaded - written)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def virtuoso_store(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:  # fmt: skip
    """Virtuoso 7 holding the session's build, loaded over HTTP by our loader."""
    started = time.monotonic()
    server = start_virtuoso(tmp_path_factory.mktemp("virtuoso"))
    try:
        ready = time.monotonic()
        load(release, server.store_url, credentials=server.credentials)
        server.timings.update(start=ready - started, http_load=time.monotonic() - ready)
        yield server
    finally:
        server.stop()


@pytest.fixture
def oxigraph_writable(tmp_path: Path) -> Iterator[StoreServer]:
    """An empty Oxigraph that accepts Graph Store Protocol writes (``oxigraph serve``)."""
    server = start_oxigraph(tmp_path / "db", read_only=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A URL on 127.0.0.1 whose server accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/sparql"
