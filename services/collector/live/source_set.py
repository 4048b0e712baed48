"""The live sources the collector polls, one per provider, built from the configuration."""

from __future__ import annotations

from services.collector.live.source import LiveSource
from services.runtime.installation import Runtime


def build_live_sources(runtime: Runtime) -> dict[str, LiveSource]:
    """Every provider's live source; none in demo mode (its numbers are all made up) or when
    ``[limits] enabled = false``."""
    if runtime.demo or not runtime.config.limits.enabled:
        return {}
    from services.collector.claude.live import claude_live_source
    from services.collector.codex.live import codex_live_source
    from services.collector.gemini.live import gemini_live_source

    config = runtime.config
    return {
        "claude": claude_live_source(config),
        "codex": codex_live_source(config),
        "gemini": gemini_live_source(config),
    }
