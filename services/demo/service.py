"""The demo: a generated, realistic Claude Code history that keeps growing, for new users.

It runs only in demo mode (see ``services.runtime.installation``); otherwise the process idles until stopped, so
the Procfile is the same either way.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import structlog

from bus.messages import LimitsObserved, LimitWindow
from services.runtime.installation import Runtime
from services.runtime.lifecycle import StopFlag
from services.runtime.spool import write_observation

HISTORY_MB = 24.0
HISTORY_DAYS = 30
APPEND_EVERY_SECONDS = (2.0, 6.0)
LIMITS_EVERY_SECONDS = 60.0
DEMO_WINDOWS = (("five_hour", 5 * 3600), ("seven_day", 7 * 86_400))


def ensure_history(root: Path, size_mb: float = HISTORY_MB, seed: int = 7) -> bool:
    """Generate the history under ``root`` unless it is there; True if it was generated.

    It is written aside and moved into place in one rename, so the collector never sees a
    half-generated tree.
    """
    if (root / "projects").is_dir():
        return False
    from services.demo.corpus.claude import generate

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=root.parent))
    try:
        generate(staging, size_mb=size_mb, seed=seed, days=HISTORY_DAYS)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def run(runtime: Runtime) -> None:
    """Generate the history if needed, then append a new exchange every few seconds."""
    logger = structlog.get_logger().bind(process="demo")
    stop = StopFlag()
    if not runtime.demo:
        logger.info("ready", demo=False, note="Claude Code data found; the demo stays idle")
        while not stop.wait(3600):
            pass
        return
    from services.demo.corpus.claude import append_live

    root = runtime.demo_root
    generated = ensure_history(root)
    logger.info("ready", demo=True, root=str(root), generated=generated)
    rng = random.Random()
    next_limits = 0.0
    while not stop.wait(rng.uniform(*APPEND_EVERY_SECONDS)):
        added = append_live(root, rng)
        logger.debug("appended", records=len(added))
        if time.time() >= next_limits:
            write_observation(runtime.state, "demo-limits", demo_limits(time.time()))
            next_limits = time.time() + LIMITS_EVERY_SECONDS
    logger.info("stopping")


def demo_limits(now: float) -> LimitsObserved:
    """Made-up 5-hour and weekly windows filling up over their span, so the demo shows limits
    too. They say ``estimated`` and "demo data": nothing here came from a provider."""
    windows = []
    for name, seconds in DEMO_WINDOWS:
        resets_at = (now // seconds + 1) * seconds
        elapsed = 1 - (resets_at - now) / seconds
        windows.append(
            LimitWindow(
                provider="claude",
                window=name,
                used_percent=round(5 + 85 * elapsed, 1),
                observed_at=now,
                source="estimated",
                resets_at=resets_at,
                window_seconds=seconds,
                detail="demo data",
            )
        )
    return LimitsObserved(
        observation_id=f"demo:{time.time_ns()}",
        provider="claude",
        source="estimated",
        observed_at=now,
        windows=tuple(windows),
    )
