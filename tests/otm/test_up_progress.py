"""`otm up`'s first-ingest bar: when it shows, what it says when done, when it stays away."""

from __future__ import annotations

from otm.up_progress import Bar, Ingest, IngestWatch, done_text, started_text


class Recorder(Bar):
    """A bar that records what it was asked to do instead of drawing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def begin(self, ingest: Ingest) -> None:
        """Record a start."""
        self.calls.append(f"begin {ingest.size_read}/{ingest.size}")

    def update(self, ingest: Ingest) -> None:
        """Record a move."""
        self.calls.append(f"update {ingest.size_read}/{ingest.size}")

    def end(self) -> None:
        """Record an end."""
        self.calls.append("end")


def ingest(run: int, read: int, size: int, active: bool, records: int = 0) -> Ingest:
    """Figures of a 4-file ingest."""
    return Ingest(run, 4, 4 if not active else 1, size, read, records, active)


def watch(*beats: Ingest) -> tuple[list[str], list[str]]:
    """What the bar was asked to do and the lines said, after these heartbeats (10 s apart)."""
    bar, now = Recorder(), iter(range(0, 1000, 10))
    said: list[str] = []
    w = IngestWatch(bar, said.append, lambda: float(next(now)))
    for beat in beats:
        w.heard(beat)
    return bar.calls, said


def test_bar_follows_the_first_ingest() -> None:
    """The first ingest begins a bar, moves it, and ends it once no longer active."""
    calls, _said = watch(
        ingest(1, 0, 100, True), ingest(1, 50, 100, True), ingest(1, 100, 100, False)
    )
    assert ["begin 0/100", "update 50/100", "end"] == calls


def test_done_line_when_caught_up() -> None:
    """Once the first ingest is committed, one "caught up" line says what it read."""
    _calls, said = watch(ingest(1, 0, 3_000_000, True), ingest(1, 3_000_000, 3_000_000, False, 7))
    assert [done_text(ingest(1, 3_000_000, 3_000_000, False, 7), 10.0)] == said


def test_nothing_to_ingest_no_bar_no_line() -> None:
    """With nothing to read (run 0, no bytes), there is no bar and nothing is said."""
    assert ([], []) == watch(Ingest(0, 0, 0, 0, 0, 0, False), Ingest(0, 0, 0, 0, 0, 0, False))


def test_later_small_ingest_is_quiet() -> None:
    """After the first ingest, a small one (a live append) gets no bar and no line."""
    calls, said = watch(
        ingest(1, 0, 100, True),
        ingest(1, 100, 100, False),
        ingest(2, 0, 10, True),
        ingest(2, 10, 10, False),
    )
    assert (["begin 0/100", "end"], 1) == (calls, len(said))


def test_first_ingest_between_two_beats_is_still_said() -> None:
    """A first ingest that started and ended between heartbeats still gets its line."""
    calls, said = watch(ingest(1, 100, 100, False, 3))
    assert (["end"], ["caught up: 4 files, 0.1 MB, 3 records"]) == (calls, said)


def test_old_collector_reports_no_ingest() -> None:
    """Counters without ingest figures (an older collector) give no ingest."""
    assert None is Ingest.of({"records_sent": 5})


def test_counters_make_an_ingest() -> None:
    """The collector's ingest_* counters become the figures."""
    counters = {
        "ingest_run": 2, "ingest_files": 3, "ingest_files_done": 1, "ingest_bytes": 900,
        "ingest_bytes_read": 300, "ingest_records": 12, "ingest_active": 1,
    }  # fmt: skip
    assert Ingest(2, 3, 1, 900, 300, 12, True) == Ingest.of(counters)


def test_started_text() -> None:
    """Off a terminal the start of the ingest is one line: files and MB."""
    assert "reading 1,050 files, 300.1 MB…" == started_text(
        Ingest(1, 1050, 0, 300_100_000, 0, 0, True)
    )


def test_done_text_has_files_size_records_and_rate() -> None:
    """The "caught up" line says files, MB, records, seconds and MB/s."""
    assert "caught up: 2 files, 4.0 MB, 1 record in 2.0 s, 2.0 MB/s" == done_text(
        Ingest(1, 2, 2, 4_000_000, 4_000_000, 1, False), 2.0
    )
