"""lod-publisher: publish a knowledge graph as Linked Open Data."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for.

    Not at import: ``importlib.metadata`` brings in ``email``, ``zipfile`` and more,
    about 10 MB in every query evaluator process, which imports this package.
    """
    if name == "__version__":
        from importlib.metadata import version

        return version("lod-publisher")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
