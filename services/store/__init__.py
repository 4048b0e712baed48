"""The store: the SQLite event log, its projections, file cursors and replay (one writer)."""
