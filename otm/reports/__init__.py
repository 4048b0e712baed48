"""Reports read from the store's projections (never from raw logs), shared by the CLI and API."""
