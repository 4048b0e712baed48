"""The ``otm`` command: it parses arguments and renders answers (tables, CSV, the statusline).

Everything it runs or asks lives in ``services`` (the processes, their shared runtime and the
queries) and ``bus``; nothing imports this package.
"""
