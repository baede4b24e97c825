"""``python -m lod_publisher``: the same as the ``lod-publisher`` command."""

from lod_publisher.cli import main

main()
