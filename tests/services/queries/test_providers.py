"""Each provider's state names the fix that fits how otm runs: demo, limits off, stack up."""

from __future__ import annotations

from services.queries.providers import provider_states

ROOTS = [{"provider": "claude", "files": 3}]


def claude(**context: bool) -> tuple[str, str]:
    """Claude's reason and fix with no live check on record."""
    state = provider_states(ROOTS, {}, [], 0.0, **context)["claude"]
    return state["reason"], state["fix"]


def test_a_stopped_stack_is_told_to_start() -> None:
    """Without the stack, the fix is to start it or refresh."""
    assert (
        "usage counted from 3 log files; live limits not checked yet",
        "start the stack (`otm up`), which checks every few minutes, or `otm refresh`",
    ) == claude()


def test_a_running_stack_is_not_told_to_start() -> None:
    """With the stack up, the fix says it will ask, and how to ask now."""
    assert "the stack asks every few minutes; `otm refresh` asks now" == claude(running=True)[1]


def test_the_demo_says_its_limits_are_never_asked() -> None:
    """Demo data has no sign-in, so no live check will ever come."""
    assert (
        "usage counted from 3 log files; demo data: live limits are not asked for",
        "use Claude Code, Codex or Gemini CLI here; otm then reads their logs and limits",
    ) == claude(running=True, demo=True)


def test_limits_switched_off_name_the_setting() -> None:
    """``[limits] enabled = false`` is named with its fix."""
    assert (
        "usage counted from 3 log files; live limits are off ([limits] enabled = false)",
        "set [limits] enabled = true in the config file to ask the providers",
    ) == claude(enabled=False)
