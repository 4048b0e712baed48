"""OpenTokenMonitor: the ``otm`` command and what every process shares (config, logging, reports)."""
