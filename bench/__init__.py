"""Benchmarks of OpenTokenMonitor: ``python -m bench.pipeline --size-mb 200``."""
