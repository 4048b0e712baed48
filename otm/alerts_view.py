"""Drawing ``otm alerts`` and ``otm alerts test`` for people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
STATE_MARK = {
    "delivered": "[green]✓[/]",
    "pending": "[yellow]…[/]",
    "held": "[blue]held[/]",
    "failed": "[red]✗[/]",
    "expired": "[dim]old[/]",
}


def show_alerts(report: dict[str, Any]) -> None:
    """Recent alerts, newest first: when, what, and each channel's delivery."""
    console = Console()
    alerts: list[dict[str, Any]] = report["alerts"]
    if not alerts:
        demo = " (demo mode)" if report.get("demo") else ""
        console.print(f"No alerts yet{demo}. `otm alerts test` checks that they reach you.")
        return
    table = Table("when", "alert", "channels", title="Alerts", expand=False)
    for alert in alerts:
        style = SEVERITY_STYLE.get(alert["severity"], "")
        active = " [bold](active)[/]" if alert["active"] else ""
        text = f"[{style}]{escape(alert['title'])}[/]{active}\n[dim]{escape(alert['body'])}[/]"
        table.add_row(_when(alert["raisedAt"]), text, _channels(alert["deliveries"]))
    console.print(table)
    problems = {
        (d["channel"], d["answer"], d["fix"])
        for a in alerts
        for d in a["deliveries"]
        if d["state"] == "failed" or (d["state"] == "pending" and d["attempts"])
    }
    for channel, answer, fix in sorted(problems):
        hint = f" — fix: {escape(fix)}" if fix else ""
        console.print(f"[red]{escape(channel)}[/]: {escape(answer)}{hint}")


def show_test_answers(answers: list[dict[str, Any]]) -> None:
    """What each channel answered to the test alert."""
    console = Console()
    if not answers:
        console.print(
            "No channel is configured: set [alerts] desktop = true, urls or command in "
            "config.toml (README, 'Alerts')."
        )
        return
    for answer in answers:
        mark = "[green]✓[/]" if answer["ok"] else "[red]✗[/]"
        line = f"{mark} {escape(answer['channel'])}: {escape(answer['answer'])}"
        if answer["fix"]:
            line += f"\n    fix: {escape(answer['fix'])}"
        console.print(line)


def _when(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%b %d %H:%M")


def _channels(deliveries: list[dict[str, Any]]) -> str:
    if not deliveries:
        return "[dim]—[/]"
    return "\n".join(
        f"{STATE_MARK.get(d['state'], d['state'])} {escape(d['channel'])}" for d in deliveries
    )
