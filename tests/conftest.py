"""Shared fixtures: one real build of the shipped data, the Flask app over it, a live server.

The build's base IRI names the live server's port, so every IRI in the data
dereferences on the server the HTTP tests talk to.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lod_publisher.build import build
from lod_publisher.releases import Release
from lod_publisher.settings import Settings, load_settings
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app

PROJECT = Path(__file__).resolve().parents[1]

# Real triple stores (Oxigraph, Virtuoso) as session fixtures, for the remote backend.
pytest_plugins = ("tests.stores",)


def free_port() -> int:
    """A port nothing listens on now, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def project_settings(build_dir: Path, port: int, **overrides: object) -> Settings:
    """Settings for the shipped project, ignoring any LOD_* variables of the caller."""
    values: dict[str, object] = {
        "source_dir": PROJECT,
        "build_dir": build_dir,
        "base_uri": f"http://127.0.0.1:{port}/",
        "port": port,
        **overrides,
    }
    return load_settings(values, environ={})


@pytest.fixture(scope="session")
def live_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, live_port: int) -> Settings:
    return project_settings(tmp_path_factory.mktemp("build"), live_port)


@pytest.fixture(scope="session")
def release(settings: Settings) -> Release:
    return build(settings)


@pytest.fixture(scope="session")
def policy(release: Release) -> UriPolicy:
    return UriPolicy(release.base_uri)


@pytest.fixture(scope="session")
def app(settings: Settings, release: Release) -> Flask:
    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def start_server(
    settings: Settings, *extra: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``lod-publisher serve`` (Granian) and wait until it answers; stop it by PID.

    The server's output and error log go to ``log`` (default: a file beside the build).
    """
    command = [
        sys.executable, "-m", "lod_publisher", "serve",
        "--build-dir", str(settings.build_dir),
        "--host", "127.0.0.1", "--port", str(settings.port), *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOD_")}
    log = log or settings.build_dir / f"server-{settings.port}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    process.log_path = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{settings.port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"server did not answer at {url} within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> str:
    """Stop the server we started, by its PID; return its error log."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log: Path | None = getattr(process, "log_path", None)
    return log.read_text(errors="replace") if log else ""


def open_files(pid: int) -> set[Path]:
    """The files process ``pid`` has open now (one closed while we look is left out)."""
    found = set()
    for link in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            found.add(link.readlink())
    return found


def assert_clean_log(log: str) -> None:
    """A server that crashed a worker or raised says so in its log."""
    # Granian logs "Unexpected exit from worker-N" when a worker dies on its own.
    for sign in ("SIGSEGV", "Traceback", "Unexpected exit from worker"):
        assert sign not in log, f"server log shows {sign}:\n{log[-3000:]}"


@pytest.fixture(scope="session")
def live_server(settings: Settings, release: Release) -> Iterator[str]:
    """Base URL of a real Granian server on 127.0.0.1 serving the session's build."""
    process = start_server(settings)
    try:
        yield f"http://127.0.0.1:{settings.port}/"
    finally:
        log = stop_server(process)
    assert_clean_log(log)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None
) -> Reply:
    """One raw HTTP request on 127.0.0.1, redirects not followed (http.client)."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", "tests only talk to the loopback interface"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on a loopback port; the first bytes of every connection it gets are
    collected, so a test can assert that nothing connected."""
    received: list[bytes] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    received.append(connection.recv(4096))
                except TimeoutError:
                    received.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1]), received
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
