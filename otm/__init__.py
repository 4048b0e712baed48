"""OpenTokenMonitor: the ``otm`` command and what every process shares.

Config, runtime paths, logging, reports and the demo corpus generator live here.
"""
