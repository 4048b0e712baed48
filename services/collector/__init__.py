"""The collector process: provider adapters read new data and publish observations."""

import sys

# httpx loads its command-line client (click, rich, pygments: ~6 MB resident and ~50 ms) whenever
# those happen to be installed, as they are beside typer. The collector never runs that client,
# and httpx's __init__ falls back to a stub when it cannot be imported.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
