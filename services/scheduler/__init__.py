"""The scheduler process: safety-net log refreshes and the live limits cadence."""
