"""`otm tail`'s readable lines, event kind by event kind."""

from __future__ import annotations

import time

from bus.messages import (
    ActivityCommitted,
    FileCursor,
    Heartbeat,
    LimitsCommitted,
    LimitWindow,
    LiveStatus,
    ModelPrice,
    Prompt,
    RefreshRequested,
    UsageCommitted,
    UsageRecord,
)
from otm.tail_lines import PROMPT_SHOWN, Readable, clock, count, dollars, short_model

SONNET = ModelPrice(
    input="3", output="15", cache_write_5m="3.75", cache_write_1h="6", cache_read="0.3"
)
CURSOR = FileCursor(path="p", dev=1, ino=1, offset=10, head_len=0, head_sha1="")
AT = time.mktime((*time.localtime()[:3], 9, 12, 34, 0, 0, -1))
"""09:12:34 today: a time of today reads without its date."""


def _record(key: str = "k", output: int = 800, model: str = "claude-sonnet-4-5") -> UsageRecord:
    return UsageRecord(
        key=key, provider="claude", ts_ms=int(AT * 1000), model=model, project="p",
        session="s", input=1200, output=output, cache_write_5m=2000, cache_read=10000,
    )  # fmt: skip


def _usage(*records: UsageRecord, replaces: tuple[UsageRecord, ...] = ()) -> UsageCommitted:
    return UsageCommitted(
        seq=1, batch_id="b", provider="claude", source="local", cursor=CURSOR,
        records=records, replaces=replaces,
    )  # fmt: skip


def _priced(provider: str, model: str) -> ModelPrice | None:
    return SONNET if model == "claude-sonnet-4-5" else None


def test_short_model_drops_the_vendor_and_the_date() -> None:
    """claude-opus-4-6-20260101 reads opus-4-6; other vendors' names stay."""
    assert ["opus-4-6", "gpt-5-codex", "<synthetic>"] == [
        short_model("claude-opus-4-6-20260101"),
        short_model("gpt-5-codex"),
        short_model(None),
    ]


def test_counts_are_compact() -> None:
    """412, 12.3k and 1.25M."""
    assert ["412", "12.3k", "1.25M"] == [count(412), count(12_345), count(1_250_000)]


def test_dollars_keep_cents_of_cents_under_a_dollar() -> None:
    """$0.0261 under a dollar, $12.50 above."""
    assert ["$0.0261", "$12.50"] == [dollars(26_100_000_000), dollars(12_500_000_000_000)]


def test_usage_line_has_time_provider_model_tokens_and_dollars() -> None:
    """One response: local time, claude, sonnet-4-5, in/out/cache tokens and its cost."""
    line = Readable(_priced).line("evt.usage.claude", _usage(_record()))
    assert "09:12:34 claude sonnet-4-5 in 1.2k out 800 cache w 2.0k r 10.0k $0.0261" == " ".join(
        line.split()[-13:]
    )


def test_a_replaced_copy_counts_only_what_it_adds() -> None:
    """A larger streaming copy shows the tokens and dollars it adds over the copy it replaces."""
    event = _usage(_record(output=1800), replaces=(_record(output=800),))
    line = Readable(_priced).line("evt.usage.claude", event)
    assert ["out", "1.0k", "$0.0150", "(1", "updated)"] == [
        *line.split()[5:7],
        *line.split()[-3:],
    ]


def test_an_unpriced_model_shows_no_made_up_dollars() -> None:
    """A model with no price reads "$? (unpriced)", never $0."""
    line = Readable(_priced).line("evt.usage.claude", _usage(_record(model="claude-imaginary-9")))
    assert line.endswith("$? (unpriced)")


def test_several_responses_name_the_first_model_and_how_many() -> None:
    """Two models in one batch: the first, "+1", and "2 responses"."""
    event = _usage(_record("a"), _record("b", model="claude-haiku-4-5"))
    line = Readable(_priced).line("evt.usage.claude", event)
    assert (["sonnet-4-5", "+1"], "(2 responses)") == (line.split()[2:4], line[-13:])


def test_limits_line_names_windows_and_source() -> None:
    """Each window with its used % and reset, then the source."""
    window = LimitWindow(
        provider="claude", window="five_hour", used_percent=42.4, observed_at=AT, source="live"
    )
    event = LimitsCommitted(
        seq=1, observation_id="o", provider="claude", source="live", observed_at=AT,
        windows=(window,),
    )  # fmt: skip
    assert "claude limits 5-hour 42 % [live]" == " ".join(
        Readable(_priced).line("evt.limits.claude", event).split()[1:]
    )


def test_a_failed_live_poll_says_why() -> None:
    """A failed poll reads "live failed: <reason>"."""
    status = LiveStatus(provider="codex", state="failed", checked_at=AT, reason="token expired.")
    event = LimitsCommitted(
        seq=1, observation_id="o", provider="codex", source="live", observed_at=AT, status=status
    )
    line = Readable(_priced).line("evt.limits.codex", event)
    assert line.endswith("limits  live failed: token expired [live]")


def test_prompt_line_shows_only_the_first_words() -> None:
    """A long prompt is cut to its first ``PROMPT_SHOWN`` characters, so the line fits 80."""
    prompt = Prompt(key="k", provider="claude", ts_ms=int(AT * 1000), project="p", session="s",
                    text="word " * 40)  # fmt: skip
    line = Readable(_priced).line(
        "evt.activity.claude", ActivityCommitted(seq=1, provider="claude", prompts=(prompt,))
    )
    assert (PROMPT_SHOWN + 2, True) == (len(line.split("prompt  ", 1)[1]), len(line) <= 80)


def test_refresh_line_says_why_and_how_many_files() -> None:
    """A refresh request reads "refresh (files, 2 files)"."""
    message = RefreshRequested(provider="claude", reason="files", requested_at=AT, paths=("a", "b"))
    assert "claude refresh (files, 2 files)" == " ".join(
        Readable(_priced).line("cmd.refresh.claude", message).split()[1:]
    )


def test_an_event_of_another_day_shows_its_date() -> None:
    """A replayed event from another day reads with its date in front of the time."""
    assert "2026-05-16 09:12:34" == clock(time.mktime((2026, 5, 16, 9, 12, 34, 0, 0, -1)), now=AT)


def test_heartbeat_line_names_process_pid_and_uptime() -> None:
    """A store heartbeat reads "store alive pid 42, up 2 min, head seq 7"."""
    beat = Heartbeat(process="store", pid=42, started_at=AT - 150, sent_at=AT, head_seq=7)
    assert "store alive pid 42, up 2 min, head seq 7" == " ".join(
        Readable(_priced).line("sys.heartbeat", beat).split()[1:]
    )


def test_counts_never_take_more_than_five_characters() -> None:
    """Counts up to billions stay within five characters, so usage lines keep their columns."""
    samples = (0, 999, 99_999, 123_456, 999_999, 1_234_567, 12_345_678, 123_456_789, 2_000_000_000)
    assert [True] * len(samples) == [len(count(n)) <= 5 for n in samples]
