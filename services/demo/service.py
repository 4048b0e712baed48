"""The demo: a generated, realistic Claude Code history that keeps growing, for new users.

It runs only in demo mode (see ``services.runtime.installation``); otherwise the process idles
until stopped, so the Procfile is the same either way.

In: nothing. Work: append to the generated history. Out: log lines the collector reads, made-up
limits through the spool.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bus.messages import LimitsObserved, LimitWindow
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service
from services.runtime.spool import write_observation

HISTORY_MB = 24.0
HISTORY_DAYS = 30
FIRST_APPEND_SECONDS = (1.0, 3.0)
"""A new user sees the numbers move within seconds of ``otm up``."""
DEMO_TOKENS_PER_HOUR = 4_000_000
"""The live demo's pace, about the busiest 5-hour block of the generated history spread over
five hours: each exchange is followed by a pause as long as its tokens take at this rate, so
the active block's burn rate and projections look like a busy real user's, not a runaway's."""
APPEND_GAP_SECONDS = (2.0, 60.0)
"""The shortest and longest pause between two exchanges."""
LIMITS_EVERY_SECONDS = 15.0
IDLE_SECONDS = 1.0
DEMO_WINDOWS = (("five_hour", 5 * 3600), ("seven_day", 7 * 86_400))
FIVE_HOUR_START = 76.0
FIVE_HOUR_SECONDS_PER_PERCENT = 12.0
"""The demo's 5-hour window starts at 76 % and fills a point every 12 s up to 97 %: a new user
sees the 75 % alert within seconds of ``otm up``, then 90 % and 95 % within five minutes (made
up, and labelled so). A new 5-hour window starts again at 76 %."""
SEVEN_DAY_START, SEVEN_DAY_RISE = 30.0, 60.0


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


class DemoService:
    """In demo mode, appends a new exchange every few seconds and made-up limits every minute;
    otherwise idles, so the Procfile is the same either way."""

    name = "demo"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.rng = random.Random()
        self.next_append = 0.0
        self.next_limits = 0.0
        self.started = time.time()

    def start(self, node: Node) -> Mapping[str, object]:
        """Generate the history if it is not there yet."""
        self.node = node
        if not self.runtime.demo:
            return {"demo": False, "note": "Claude Code data found; the demo stays idle"}
        generated = ensure_history(self.runtime.demo_root)
        self.next_append = time.monotonic() + self.rng.uniform(*FIRST_APPEND_SECONDS)
        return {"demo": True, "root": str(self.runtime.demo_root), "generated": generated}

    def handle(self, batch: Batch) -> None:
        """The demo subscribes to nothing."""

    def step(self) -> float:
        """Append when an append is due, write the made-up limits when they are due; the
        seconds until the next of the two."""
        if not self.runtime.demo:
            return IDLE_SECONDS
        if time.monotonic() >= self.next_append:
            from services.demo.corpus.claude import append_live

            added = append_live(self.runtime.demo_root, self.rng)
            self.node.logger.debug("appended", records=len(added))
            self.node.pulse.counters["records_appended"] += len(added)
            tokens = sum(
                r.input + r.output + r.cache_write_5m + r.cache_write_1h + r.cache_read
                for r in added
            )
            self.next_append = time.monotonic() + pause_after(tokens, self.rng)
        if time.time() >= self.next_limits:
            observed = demo_limits(time.time(), self.started)
            write_observation(self.runtime.state, "demo-limits", observed)
            self.next_limits = time.time() + LIMITS_EVERY_SECONDS
        return max(0.0, min(self.next_append - time.monotonic(), self.next_limits - time.time()))

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


def pause_after(tokens: int, rng: random.Random) -> float:
    """Seconds to wait after an exchange of ``tokens``: what they take at
    ``DEMO_TOKENS_PER_HOUR``, give or take 30 %, within ``APPEND_GAP_SECONDS``."""
    shortest, longest = APPEND_GAP_SECONDS
    seconds = tokens / DEMO_TOKENS_PER_HOUR * 3600 * rng.uniform(0.7, 1.3)
    return min(longest, max(shortest, seconds))


def run(runtime: Runtime) -> None:
    """Generate the history if needed, then append a new exchange every few seconds."""
    run_service(DemoService(runtime), runtime)


def demo_limits(now: float, started: float | None = None) -> LimitsObserved:
    """Made-up 5-hour and weekly windows filling up, so the demo shows limits and alerts too.
    They say ``estimated`` and "demo data": nothing here came from a provider. ``started`` is
    when the demo began (the 5-hour window fills from then, or from its own start if later)."""
    windows = []
    for name, seconds in DEMO_WINDOWS:
        resets_at = (now // seconds + 1) * seconds
        window_start = resets_at - seconds
        if name == "five_hour":
            since = now - max(window_start, started if started is not None else window_start)
            used = min(97.0, FIVE_HOUR_START + since / FIVE_HOUR_SECONDS_PER_PERCENT)
        else:
            used = SEVEN_DAY_START + SEVEN_DAY_RISE * (now - window_start) / seconds
        windows.append(
            LimitWindow(
                provider="claude",
                window=name,
                used_percent=round(used, 1),
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
