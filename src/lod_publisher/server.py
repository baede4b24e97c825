"""Run the site under gunicorn (production) or Flask's development server (``--dev``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from lod_publisher.releases import current_release
from lod_publisher.settings import Settings
from lod_publisher.web import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from our settings instead of its own command line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            # gthread: a worker answers `threads` requests at once and keeps connections
            # alive; the default sync worker closes every connection after one response.
            "worker_class": "gthread" if s.threads > 1 else "sync",
            "threads": s.threads,
            # A worker answering one request for longer than this is restarted; queries
            # are stopped earlier by their own deadline.
            "timeout": int(s.query_timeout) + 30,
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self.settings)


def serve(settings: Settings, dev: bool = False) -> None:
    """Serve until interrupted. Every worker opens the store read-only after the fork."""
    if dev:
        create_app(settings).run(host=settings.host, port=settings.port, debug=False)
    else:
        # Fail fast if there is no build, without opening the store: RocksDB is not
        # fork-safe, so only the workers open it, after the fork.
        current_release(settings.build_dir)
        _Gunicorn(settings).run()
