"""How `otm up` reads each process's exit: a stop it asked for, a kill, or a failure."""

from __future__ import annotations

from otm.up_stops import Stops


def _asked(*names: str) -> Stops:
    stops = Stops()
    stops.asked.update(names)
    return stops


def test_sigterm_exit_after_being_asked_is_a_plain_stop() -> None:
    """rc=-15 from a process otm up sent SIGTERM reads "<name> stopped"."""
    assert "watcher stopped" == _asked("watcher").text("watcher", -15, 5)


def test_graceful_and_shell_exits_after_being_asked_are_stops() -> None:
    """0, 143 and 130 after a stop request all read as plain stops."""
    stops = _asked("a", "b", "c")
    assert ["a stopped", "b stopped", "c stopped"] == [
        stops.text("a", 0, 5),
        stops.text("b", 143, 5),
        stops.text("c", 130, 5),
    ]


def test_sigint_exit_after_ctrl_c_is_a_stop_even_before_sigterm_was_sent() -> None:
    """After the person's Ctrl-C, a process that exits on SIGINT first still just stopped."""
    stops = Stops(signalled=True)
    assert "api stopped" == stops.text("api", -2, 5)


def test_an_exit_nobody_asked_for_is_a_failure_with_its_status() -> None:
    """A process that exits 1 by itself reads as a failure naming the exit status."""
    assert "collector failed: exit status 1" == Stops().text("collector", 1, 5)


def test_sigterm_from_someone_else_is_a_failure() -> None:
    """rc=-15 that otm up did not cause names the signal as a failure."""
    assert "store failed: killed by SIGTERM" == Stops().text("store", -15, 5)


def test_exit_0_nobody_asked_for_is_a_failure() -> None:
    """A process that ends by itself with status 0 still stops the stack: said as a failure."""
    assert "demo failed: it exited by itself (status 0)" == Stops().text("demo", 0, 5)


def test_error_while_stopping_is_a_failure() -> None:
    """A process asked to stop that exits 1 (a crash on the way out) failed."""
    assert "notifier failed: exit status 1" == _asked("notifier").text("notifier", 1, 5)


def test_a_process_killed_for_being_slow_says_so() -> None:
    """SIGKILL sent after the wait reads "killed: it did not stop within 5 s"."""
    stops = _asked("api")
    stops.killed.add("api")
    assert "api killed: it did not stop within 5 s" == stops.text("api", -9, 5)


def test_summary_counts_the_stopped_processes() -> None:
    """All stopped: one line with their number."""
    stops = _asked("bus", "store", "api")
    for name in ("bus", "store", "api"):
        stops.text(name, -15, 5)
    assert "stack stopped: 3 processes" == stops.summary()


def test_summary_names_the_failure_first() -> None:
    """One failure: the summary names it, then how many others stopped."""
    stops = Stops()
    stops.text("watcher", -9, 5)
    stops.asked.update({"bus", "store"})
    stops.text("bus", -15, 5)
    stops.text("store", -15, 5)
    assert ("stack stopped: watcher failed; 2 other processes stopped", ["watcher"]) == (
        stops.summary(),
        stops.failed,
    )


def test_failures_say_how_each_failed() -> None:
    """The failure lines give the signal or status of each failed process."""
    stops = Stops()
    stops.text("watcher", -9, 5)
    assert ["watcher failed: killed by SIGKILL"] == stops.failures()
