"""The scheduler process: safety-net refreshes on a cadence, so a missed file event still heals."""
