"""The demo process, and the generators of synthetic CLI histories it (and the tests and the
benchmarks) use."""
