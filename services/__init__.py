"""One package per process of the pipeline; see DESIGN.md's table of processes."""
