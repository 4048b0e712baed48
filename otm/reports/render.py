"""Rich tables for people; the JSON shape stays the machine interface."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_daily(report: dict[str, Any], demo: bool = False) -> None:
    """Print the daily report as a table with a totals row."""
    console = Console()
    title = "Claude Code usage by day" + (" (demo data)" if demo else "")
    table = Table(title=title, show_footer=False)
    for name in ("Date", "Models", "Input", "Output", "Cache write", "Cache read", "Total", "Cost"):
        table.add_column(name, justify="left" if name in ("Date", "Models") else "right")
    for row in report["daily"]:
        table.add_row(
            row["date"],
            "\n".join(row["modelsUsed"]),
            f"{row['inputTokens']:,}",
            f"{row['outputTokens']:,}",
            f"{row['cacheCreationTokens']:,}",
            f"{row['cacheReadTokens']:,}",
            f"{row['totalTokens']:,}",
            f"${row['totalCost']:,.2f}",
        )
    t = report["totals"]
    table.add_section()
    table.add_row(
        "[bold]Total[/]",
        "",
        f"{t['inputTokens']:,}",
        f"{t['outputTokens']:,}",
        f"{t['cacheCreationTokens']:,}",
        f"{t['cacheReadTokens']:,}",
        f"{t['totalTokens']:,}",
        f"[bold]${t['totalCost']:,.2f}[/]",
    )
    console.print(table)
    for item in report.get("unpriced", []):
        console.print(
            f"[yellow]unpriced:[/] {item['model']} ({item['tokens']:,} tokens) is not in "
            "genai-prices; its cost is not included. Add "
            f'[pricing.overrides."{item["model"]}"] to config.toml.'
        )
