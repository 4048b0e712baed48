"""``python -m otm`` is the ``otm`` command."""

from otm.cli import main

main()
