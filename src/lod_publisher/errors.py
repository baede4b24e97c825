"""Errors that the CLI and the web layer turn into messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class LodError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(LodError):
    """A setting has a value that cannot be used."""


class SourceError(LodError):
    """An input file cannot be used: names the file, the line and column when known, and why."""

    def __init__(
        self, path: Path | str, reason: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        self.column = column
        where = str(path)
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {reason}")


class BuildError(LodError):
    """The build stopped; the published release was left as it was."""


class NoBuildError(LodError):
    """There is no published build to serve or query."""


class QueryError(LodError):
    """A SPARQL query was rejected by the engine (syntax or evaluation error)."""


class RemoteError(LodError):
    """The remote triple store failed us: unreachable, or it answered with an error.

    The web layer answers ``502 Bad Gateway``. ``status`` is the store's HTTP status, if
    it answered. Catch :class:`RemoteTimeout` (a subclass) first.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteTimeout(RemoteError):  # noqa: N818 (a kind of RemoteError, named for its status)
    """The remote triple store did not answer in time; the web layer answers ``504``."""
