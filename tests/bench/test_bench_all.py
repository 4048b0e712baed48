"""The one benchmark command: every goal row is built from each benchmark's figures."""

from __future__ import annotations

from bench.all import goals


def figures() -> dict[str, object]:
    """Figures shaped as each benchmark returns them, reduced to what the goals read."""
    return {
        "reports": {"sizes": {"1000": {"ccusage": None, "otm": {}}}},
        "statusline": {
            "otm": {
                "stopped": {
                    "over_floor": {"median": 1.5, "p95": 4.0, "median_ok": True, "p95_ok": False}
                }
            }
        },
        "cold": {"300": {"ratio_vs_ccusage": 1.2, "target_ratio": 1.5, "cold": {"median_s": 2.0}}},
        "idle": {
            "sizes": [
                {
                    "corpus": {"size_mb": 10.0},
                    "goals": [
                        {
                            "name": "RSS, whole stack (MB)",
                            "value": 300.0,
                            "limit": 250.0,
                            "ok": False,
                        }
                    ],
                }
            ]
        },
        "load": {"latency_s": {"p99": 0.1}, "lost": 0},
    }


def test_every_goal_has_a_row_with_its_verdict() -> None:
    """Reports without ccusage, statusline, cold, idle and load each give their verdict."""
    verdicts = [(name, ok) for name, _measured, _limit, ok in goals(figures())]
    expected = [
        ("reports 1000 MB", None),
        ("statusline median / floor", True),
        ("statusline p95 / floor", False),
        ("cold start 300 MB", True),
        ("idle 10 MB: RSS, MB", False),
        ("load: append → stream p99", True),
        ("load: exchanges lost", True),
    ]
    assert expected == verdicts
