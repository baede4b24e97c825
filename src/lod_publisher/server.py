"""Run the site under Granian (production) or Flask's development server (``--dev``).

Granian (https://github.com/emmett-framework/granian) parses HTTP, keeps connections
alive and queues requests in Rust, and calls our WSGI app from a small pool of Python
threads per worker process. On this project's 2-core reference machine it answers a
trivial WSGI app about ten times faster than gunicorn's sync workers, which matters
because a cached document costs only a dictionary lookup in Python
(:mod:`lod_publisher.web.response_cache`).
"""

from __future__ import annotations

import os

from flask import Flask
from granian.constants import Interfaces, RuntimeModes
from granian.server import Server

# Imported before the workers are forked, so that they share these modules' memory.
from lod_publisher.releases import current_release
from lod_publisher.settings import Settings, as_environ
from lod_publisher.store.sandbox import POOL_ADDRESS_ENV, EvaluatorPool
from lod_publisher.web import create_app
from lod_publisher.web.query_log import query_log
from lod_publisher.web.sparql import warm_up

# What every worker process calls once it runs (it reads the LOD_* variables).
_APP_FACTORY = "lod_publisher.server:worker_app"


def worker_app() -> Flask:
    """The app of one worker process, its backend already warming up."""
    app = create_app()
    warm_up(app)
    query_log.defer()  # the query log is written off the requests' path
    return app


def serve(settings: Settings, dev: bool = False) -> None:
    """Serve until interrupted. Every worker opens the store read-only once it runs.

    SIGTERM or SIGINT stop the server gracefully; SIGHUP restarts the workers one by one,
    which makes them serve the release that is current by then (the query evaluators,
    started here and shared by the workers, switch to it with the first query on it).
    """
    if dev:
        create_app(settings).run(host=settings.host, port=settings.port, debug=False)
        return
    # Fail fast if there is no build, without opening the store: RocksDB is not
    # fork-safe, so only the workers (and the evaluators) open it.
    current_release(settings.build_dir)
    os.environ.update(as_environ(settings))
    pool = None
    if settings.backend == "embedded":  # one pool of query evaluators for all the workers
        pool = EvaluatorPool(
            lambda: current_release(settings.build_dir).store_path,
            settings.evaluators,
            settings.query_memory,
        )
        os.environ[POOL_ADDRESS_ENV] = pool.address
    try:
        Server(
            _APP_FACTORY,
            factory=True,
            interface=Interfaces.WSGI,
            address=settings.host,
            port=settings.port,
            workers=settings.workers,
            blocking_threads=settings.threads,
            # One single-threaded Rust runtime per worker, as Granian picks for RSGI apps:
            # for WSGI it would pick a multi-threaded one, whose hand-offs made each
            # request after an idle moment about 0.1 ms slower here (bench/idle_gaps.py).
            runtime_mode=RuntimeModes.st,
            log_access=settings.access_log,
            respawn_failed_workers=True,
            workers_kill_timeout=10,
        ).serve()
    finally:
        if pool is not None:
            pool.close()
