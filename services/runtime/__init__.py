"""What every process shares: the configuration, where the state lives, logging, the lifecycle
(start-up, heartbeats, stopping) and the durable follower of committed events.

Kept free of imports here: ``otm statusline`` loads a module of this package on every Claude Code
status update.
"""
