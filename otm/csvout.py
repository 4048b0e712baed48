"""``--csv``: one line per row of the JSON report (a period, session, project or block).

Columns are fixed per kind, whatever the provider: the row's key columns, then
``inputTokens,outputTokens,cacheCreationTokens,cacheReadTokens,reasoningTokens,totalTokens,
totalCost``, then ``models`` (the row's ``modelsUsed`` joined with ``;``) and ``providers``
(joined with ``;``). Per-model figures and the totals stay in the JSON; there is no totals line,
so every line is data. ``reasoningTokens`` is 0 for Claude, which reports none.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from services.queries.reports.build import ROWS_KEY

KEY_COLUMNS = {
    "daily": ("date",),
    "weekly": ("week",),
    "monthly": ("month",),
    "session": ("sessionId", "projectPath", "firstActivity", "lastActivity"),
    "project": ("project", "firstActivity", "lastActivity"),
    "machines": ("machine", "machineId", "firstSeen", "lastSeen"),
    "blocks": ("id", "startTime", "endTime", "actualEndTime", "isActive", "isGap", "entries"),
}
TOKEN_COLUMNS = (
    "inputTokens",
    "outputTokens",
    "cacheCreationTokens",
    "cacheReadTokens",
    "reasoningTokens",
    "totalTokens",
    "totalCost",
)
_BLOCK_COUNTS = {
    "inputTokens": "inputTokens",
    "outputTokens": "outputTokens",
    "cacheCreationTokens": "cacheCreationInputTokens",
    "cacheReadTokens": "cacheReadInputTokens",
    "reasoningTokens": "reasoningTokens",
}


def header(kind: str) -> list[str]:
    """The CSV header of a report kind."""
    return [*KEY_COLUMNS[kind], *TOKEN_COLUMNS, "models", "providers"]


def to_csv(kind: str, report: dict[str, Any], provider: str) -> str:
    """The report as CSV text (``\\r\\n`` line ends, as the csv module writes)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(kind))
    for row in report[ROWS_KEY[kind]]:
        writer.writerow(_line(kind, row, provider))
    return out.getvalue()


def _line(kind: str, row: dict[str, Any], provider: str) -> list[Any]:
    cells: list[Any] = [_cell(row[key]) for key in KEY_COLUMNS[kind]]
    if kind == "blocks":
        counts = row["tokenCounts"]
        cells += [counts.get(_BLOCK_COUNTS[key], 0) for key in TOKEN_COLUMNS[:5]]
        cells += [row["totalTokens"], row["costUSD"], ";".join(row["models"])]
        cells.append(row.get("provider", provider))
        return cells
    cells += [row.get(key, 0) for key in TOKEN_COLUMNS]
    cells.append(";".join(row["modelsUsed"]))
    cells.append(";".join(row.get("providers", [provider])))
    return cells


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
