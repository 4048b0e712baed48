"""Structured logging for every process: JSON lines when not on a terminal, pretty on one.

Secrets never reach a log line: callers log ids, paths and counts, never tokens or prompts.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(process: str, level: int = logging.INFO) -> structlog.stdlib.BoundLogger:
    """Set up structlog for this process and return a logger bound to its name."""
    renderer: structlog.typing.Processor
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=True)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    log: structlog.stdlib.BoundLogger = structlog.get_logger().bind(process=process)
    return log
