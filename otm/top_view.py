"""The screen of ``otm top``: one line of text per row, cut to the terminal's width, never wrapped.

``screen`` turns a snapshot (``otm.top_data``) into exactly the rows that fit: the header, the
stack's state, each provider's windows and costs, then recent activity and alerts in what is
left. Countdowns are computed from ``resetsAt`` at draw time, so they tick every second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.text import Text

from bus.messages import PROVIDERS
from otm.top_data import Snapshot

TITLES = {"claude": "Claude Code", "codex": "Codex CLI", "gemini": "Gemini CLI"}
VIEWS = ("all", *PROVIDERS)
NOT_RUNNING = "the stack is not running — start it with: otm up"
BAR = 16
WINDOW_NAMES = {
    "five_hour": "5-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly opus",
    "seven_day_sonnet": "weekly sonnet",
    "spend_limit": "spend limit",
}
SECONDS_NAMES = {18_000: "5-hour", 604_800: "weekly", 86_400: "daily"}
OVERVIEW_WINDOWS = 2
"""Windows per provider in the overview (Gemini has one per model; its view shows them all)."""


@dataclass(frozen=True)
class Frame:
    """Everything besides the numbers that the screen says."""

    view: str
    now: float
    running: bool
    db_exists: bool
    width: int = 80
    height: int = 24
    demo: bool = False
    pad: bool = True
    """Fill the screen's height (a terminal), or end after the last row (a one-off print)."""
    waiting: bool = False
    """Just started: no heartbeat yet, but not for long enough to say the stack is down."""


def screen(snapshot: Snapshot, frame: Frame) -> Group:
    """The whole screen, at most ``frame.height`` rows of at most ``frame.width`` columns."""
    rows: list[Text] = [_header(frame)]
    if not frame.running and not frame.waiting:
        rows.append(Text(f" {NOT_RUNNING}", style="bold white on red"))
        if frame.db_exists:
            rows.append(Text(" showing the last known numbers", style="yellow"))
    if not frame.db_exists:
        rows.append(Text(" no database yet: nothing has been counted", style="dim"))
        rows += [Text("")] * max(0, frame.height - len(rows) - 1)
        rows.append(_footer(frame))
        return _fit(rows, frame)
    rows.append(_today(snapshot))
    providers = PROVIDERS if frame.view == "all" else (frame.view,)
    for provider in providers:
        rows += _provider(snapshot, provider, frame)
    room = frame.height - len(rows) - 1
    alerts = _alerts(snapshot, frame, min(4, max(0, room // 3)) if room > 4 else min(room, 2))
    room -= len(alerts)
    rows += _activity(snapshot, frame, room)
    rows += alerts
    if frame.pad:  # the keys stay on the last row, whatever had to be left out above them
        rows = rows[: max(0, frame.height - 1)]
        rows += [Text("")] * max(0, frame.height - len(rows) - 1)
        rows.append(_footer(frame))
    return _fit(rows, frame)


def _fit(rows: list[Text], frame: Frame) -> Group:
    out = []
    for row in rows[: frame.height]:
        row.no_wrap = True
        row.overflow = "ellipsis"
        row.truncate(frame.width, overflow="ellipsis")
        out.append(row)
    return Group(*out)


def _header(frame: Frame) -> Text:
    clock = datetime.fromtimestamp(frame.now).strftime("%H:%M:%S")
    view = "all providers" if frame.view == "all" else TITLES[frame.view]
    if frame.running:
        state = Text("● live", style="bold green")
    elif frame.waiting:
        state = Text("● connecting", style="yellow")
    else:
        state = Text("● down", style="bold red")
    left = Text.assemble(("OpenTokenMonitor", "bold"), " top · ", (view, "bold cyan"))
    if frame.demo:
        left.append(" (demo data)", style="magenta")
    right = Text.assemble(state, "  ", clock)
    gap = max(1, frame.width - len(left) - len(right) - 1)
    return Text.assemble(" ", left, " " * gap, right)


def _footer(frame: Frame) -> Text:
    out = Text(" ")
    for key, view, label in (
        ("a", "all", "all"),
        ("1", "claude", "claude"),
        ("2", "codex", "codex"),
        ("3", "gemini", "gemini"),
    ):
        style = "reverse bold" if frame.view == view else ""
        out.append(f"[{key}]", style="bold cyan")
        out.append(f" {label}", style=style)
        out.append("  ")
    out.append("[q]", style="bold cyan")
    out.append(" quit")
    return out


def money(value: float | None) -> str:
    """Dollars to the cent, as ``otm report`` prints them."""
    return "—" if value is None else f"${value:,.2f}"


def _today(snapshot: Snapshot) -> Text:
    out = Text(" Today ", style="bold")
    out.append(money(snapshot.today.get("all")), style="bold green")
    parts = [f"{p} {money(snapshot.today.get(p))}" for p in PROVIDERS]
    out.append("   (" + " · ".join(parts) + ")", style="dim")
    return out


def _provider(snapshot: Snapshot, provider: str, frame: Frame) -> list[Text]:
    head = Text(" ")
    head.append(f"{TITLES[provider]:<12}", style="bold")
    head.append(f" today {money(snapshot.today.get(provider))}")
    block = snapshot.blocks.get(provider)
    if block is None:
        head.append("   no active 5-hour block", style="dim")
    else:
        head.append(f"   block {money(block['costUSD'])}")
        burn, projection = block.get("burnRate"), block.get("projection")
        if burn is not None and projection is not None:
            head.append(f"  burn {money(burn['costPerHour'])}/h")
            head.append(f"  projected {money(projection['totalCost'])}")
    rows = [head]
    windows = [w for w in snapshot.limits.get("limits", []) if w["provider"] == provider]
    if not windows:
        rows.append(Text("   no rate-limit windows observed yet (otm doctor says why)", "dim"))
    shown = windows if frame.view != "all" else windows[:OVERVIEW_WINDOWS]
    for window in shown:
        rows.append(window_row(window, frame.now))
    if len(shown) < len(windows):
        key = PROVIDERS.index(provider) + 1
        rows.append(Text(f"   … {len(windows) - len(shown)} more (press {key})", style="dim"))
    if frame.view != "all" and block is not None:
        rows.append(_block_detail(block, frame))
    if frame.view != "all":
        live = snapshot.limits.get("live", {}).get(provider)
        if live is not None and live["state"] != "ok":
            rows.append(Text(f"   live check {live['state']}: {live['reason']}", "yellow"))
            rows.append(Text(f"   fix: {live['fix']}", "yellow"))
    return rows


def _block_detail(block: dict[str, Any], frame: Frame) -> Text:
    end = datetime.fromisoformat(block["endTime"].replace("Z", "+00:00")).astimezone()
    out = Text(f"   block until {end:%H:%M}: {block['totalTokens']:,} tokens")
    projection = block.get("projection")
    if projection is not None:
        out.append(f", projected {projection['totalTokens']:,}")
        out.append(f" ({countdown(projection['remainingMinutes'] * 60)[:-3]} left)")
    return out


def window_label(window: dict[str, Any]) -> str:
    """A person's name for a window: ``5-hour``, ``weekly``, a Gemini model."""
    name = str(window["window"])
    if name in WINDOW_NAMES:
        return WINDOW_NAMES[name]
    if name in ("primary", "secondary") and window.get("windowSeconds") in SECONDS_NAMES:
        return SECONDS_NAMES[window["windowSeconds"]]
    return name


def countdown(seconds: float) -> str:
    """``4:59:59`` under a day, ``3d 04:05:09`` beyond: it visibly ticks every second."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}" if days else clock


def bar(percent: float | None) -> Text:
    """``BAR`` cells, filled to ``percent``; green, yellow from 75 %, red from 90 %."""
    if percent is None:
        return Text("?" * BAR, style="dim")
    filled = round(min(100.0, max(0.0, percent)) / 100 * BAR)
    style = "green" if percent < 75 else "yellow" if percent < 90 else "bold red"
    return Text.assemble(("█" * filled, style), ("░" * (BAR - filled), "dim"))


def window_row(window: dict[str, Any], now: float) -> Text:
    """``  5-hour   ████░░…  23%  resets 2:13:05  live``, with the stale mark."""
    label = window_label(window)
    if len(label) > 12:
        label = label[:11] + "…"
    used = window["usedPercent"]
    resets_at = window.get("resetsAt")
    reset_passed = resets_at is not None and resets_at <= now
    if reset_passed:
        used = None
    out = Text(f"   {label:<12} ")
    out.append_text(bar(used))
    out.append(" " + ("  ?%" if used is None else f"{used:>3.0f}%"), style="bold")
    if resets_at is None:
        out.append("  reset time unknown", style="dim")
    elif reset_passed:
        out.append("  reset — awaiting a reading", style="dim")
    else:
        out.append(f"  resets {countdown(resets_at - now)}")
    source = str(window["source"])
    out.append(f"  {source}", style="yellow" if source == "estimated" else "cyan")
    if window["stale"] or reset_passed:
        out.append(" stale", style="bold yellow")
    return out


def _section(title: str, frame: Frame) -> Text:
    text = Text(f"─ {title} ", style="bold")
    text.append("─" * max(0, frame.width - len(text)), style="dim")
    return text


def _activity(snapshot: Snapshot, frame: Frame, room: int) -> list[Text]:
    if room < 2:
        return []
    rows = [_section("Recent activity", frame)]
    items = [a for a in snapshot.activity if frame.view == "all" or a.get("provider") == frame.view]
    if not items:
        rows.append(Text("   no recent activity", style="dim"))
        return rows
    for item in items[: room - 1]:
        rows.append(activity_row(item, frame))
    return rows


def activity_row(item: dict[str, Any], frame: Frame) -> Text:
    """``12:01 claude  proj  fix the parser…  $0.12``: one prompt on one line."""
    moment = datetime.fromisoformat(str(item["timestamp"]).replace("Z", "+00:00")).astimezone()
    project = str(item.get("project") or "").rstrip("/").rsplit("/", 1)[-1][:12]
    cost = money(item.get("totalCost"))
    out = Text(f" {moment:%H:%M} ", style="dim")
    if frame.view == "all":
        out.append(f"{item.get('provider', ''):<6} ", style="cyan")
    out.append(f"{project:<12} ", style="bold")
    text = " ".join(str(item.get("text") or "").split())
    room = max(8, frame.width - len(out) - len(cost) - 1)
    if len(text) > room:
        text = text[: room - 1] + "…"
    out.append(f"{text:<{room}} ")
    out.append(cost, style="green")
    return out


def _alerts(snapshot: Snapshot, frame: Frame, room: int) -> list[Text]:
    if room < 2:
        return []
    rows = [_section("Alerts", frame)]
    active = [a for a in snapshot.alerts.get("active", []) if _mine(a, frame)]
    recent = [a for a in snapshot.alerts.get("alerts", []) if _mine(a, frame) and not a["active"]]
    if not active and not recent:
        rows.append(Text("   no alerts", style="dim"))
        return rows
    for alert in [*active, *recent][: room - 1]:
        rows.append(alert_row(alert))
    return rows


def _mine(alert: dict[str, Any], frame: Frame) -> bool:
    return frame.view == "all" or alert.get("provider") == frame.view


def alert_row(alert: dict[str, Any]) -> Text:
    """``! 13:40 Claude 5-hour at 90 %`` (active alerts bold, older ones dim)."""
    moment = datetime.fromtimestamp(float(alert["raisedAt"])).strftime("%H:%M")
    critical = alert.get("severity") == "critical"
    mark = "!" if alert["active"] else "·"
    style = ("bold red" if critical else "bold yellow") if alert["active"] else "dim"
    out = Text(f" {mark} {moment} ", style=style)
    out.append(str(alert["title"]), style=style)
    if alert.get("demo") and "demo data" not in str(alert["title"]):
        out.append(" (demo data)", style="magenta")
    return out
