"""``python -m otm`` is the ``otm`` command (``otm.entry``: the same start, umask included)."""

import sys

from otm.entry import main

sys.exit(main())
