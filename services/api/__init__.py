"""The api process: HTTP queries, the live stream (SSE) and manual refreshes, on 127.0.0.1."""
