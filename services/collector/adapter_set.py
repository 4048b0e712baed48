"""The provider adapters this installation runs, built from the runtime's roots."""

from __future__ import annotations

from services.collector.adapter import Adapter
from services.collector.claude.adapter import ClaudeAdapter
from services.collector.codex.adapter import CodexAdapter
from services.collector.gemini.adapter import GeminiAdapter
from services.runtime.installation import Runtime


def build_adapters(runtime: Runtime) -> list[Adapter]:
    """One adapter per provider, each on its own roots (an adapter with no roots reads nothing);
    they read user prompts unless ``[activity] enabled = false``."""
    adapters: list[ClaudeAdapter | CodexAdapter | GeminiAdapter] = [
        ClaudeAdapter(runtime.claude_roots),
        CodexAdapter(runtime.codex_roots),
        GeminiAdapter(runtime.gemini_roots),
    ]
    for adapter in adapters:
        adapter.read_prompts = runtime.config.activity.enabled
    return list(adapters)
