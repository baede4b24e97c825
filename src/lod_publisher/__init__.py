"""lod-publisher: publish a knowledge graph as Linked Open Data."""

from importlib.metadata import version

__version__ = version("lod-publisher")
