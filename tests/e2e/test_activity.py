"""Recent activity end to end: a prompt and its reply appended while the stack runs reach the
committed stream and ``GET /v1/activity`` with the tokens and dollars the daily report counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from bus.client import EventFollower
from bus.endpoints import endpoints
from bus.messages import ActivityCommitted
from tests.e2e.corpus_support import expected_totals, make_corpus
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

SESSION = "5e551011-0000-4000-8000-000000000001"
DAY = "2026-11-30"
"""A day the generated corpus (May 2026) never touches, so its daily row is these replies only."""


def user(uuid: str, clock: str, text: str) -> str:
    """A typed prompt as Claude Code writes it."""
    return json.dumps(
        {
            "type": "user",
            "sessionId": SESSION,
            "uuid": uuid,
            "cwd": "/home/u/shop",
            "timestamp": f"{DAY}T{clock}.000Z",
            "message": {"role": "user", "content": text},
        },
        separators=(",", ":"),
    )


def reply(n: int, clock: str, tokens: tuple[int, int, int, int]) -> str:
    """An assistant response with ``(input, output, cache write, cache read)`` tokens."""
    usage = dict(
        zip(
            (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            ),
            tokens,
            strict=True,
        )
    )
    return json.dumps(
        {
            "type": "assistant",
            "sessionId": SESSION,
            "uuid": f"a{n}",
            "cwd": "/home/u/shop",
            "requestId": f"req_{n}",
            "timestamp": f"{DAY}T{clock}.000Z",
            "message": {
                "id": f"msg_{n}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [],
                "usage": usage,
            },
        },
        separators=(",", ":"),
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The pipeline and the api over a small corpus, caught up."""
    root = tmp_path_factory.mktemp("activity")
    manifest = make_corpus(root / "claude", size_mb=0.5)
    stack = Stack(root / "home", root / "claude")
    try:
        stack.start("bus", "store", "collector", "watcher", "api")
        wait_until(lambda: stack.token_totals() == expected_totals(manifest), 30, "ingest")
        yield stack
    finally:
        stack.stop_all()


def api(stack: Stack, path: str) -> Any:
    """The API's JSON answer."""
    with urlopen(stack.api_url + path, timeout=10) as answer:
        return json.loads(answer.read())


def session_file(stack: Stack) -> Path:
    """A new transcript of the project ``shop``."""
    folder = Path(stack.env["CLAUDE_CONFIG_DIR"]) / "projects" / "-home-u-shop"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{SESSION}.jsonl"


def append(path: Path, *lines: str) -> None:
    """Append whole lines in one write, as Claude Code does."""
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def shown(stack: Stack) -> list[dict[str, Any]]:
    """The session's prompts as /v1/activity lists them, oldest first."""
    rows = api(stack, "/v1/activity?provider=claude&limit=50")["activity"]
    return sorted((r for r in rows if r["session"] == SESSION), key=lambda r: r["tsMs"])


def test_a_prompt_and_its_reply_reach_the_api_with_the_daily_reports_numbers(
    running: Stack,
) -> None:
    """Two prompts, each answered, show their own tokens; together they cost the day's total."""
    path = session_file(running)
    with EventFollower(
        ("evt.activity.",), after=running.head(), where=endpoints(running.home)
    ) as follower:
        append(
            path,
            user("u1", "10:00:00", "Add a --json flag to the export command"),
            reply(1, "10:00:09", (1200, 340, 5000, 0)),
        )
        append(
            path,
            user("u2", "10:05:00", "Now write a test for it"),
            reply(2, "10:05:07", (80, 910, 0, 6200)),
            reply(3, "10:05:30", (20, 150, 0, 6300)),
        )
        seen: list[ActivityCommitted] = []

        def committed() -> bool:
            seen.extend(e for _, e in follower.poll(100) if isinstance(e, ActivityCommitted))
            return {"claude:u1", "claude:u2"} <= {p.key for e in seen for p in e.prompts}

        wait_until(committed, 15, "both prompts committed as evt.activity")
    rows = wait_until(
        lambda: (r := shown(running)) and len(r) == 2 and r[1]["outputTokens"] == 1060 and r,
        15,
        "both replies in /v1/activity",
    )
    day = api(running, f"/v1/usage/daily?provider=claude&since={DAY}&until={DAY}&tz=UTC")
    (total,) = day["daily"]
    assert 0 < total["totalCost"], "a priced model, so the comparison below means something"
    assert [
        ("Add a --json flag to the export command", "-home-u-shop", 1200, 340, 5000, 0),
        ("Now write a test for it", "-home-u-shop", 100, 1060, 0, 12500),
        round(total["totalCost"], 9),
    ] == [
        *(
            (
                r["text"],
                r["project"],
                r["inputTokens"],
                r["outputTokens"],
                r["cacheCreationTokens"],
                r["cacheReadTokens"],
            )
            for r in rows
        ),
        round(rows[0]["totalCost"] + rows[1]["totalCost"], 9),
    ]
