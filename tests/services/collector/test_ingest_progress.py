"""The collector's ingest figures in its heartbeat (``otm up``'s progress bar reads them)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from bus.messages import FileCursor, UsageBatch
from services.collector.reading import Collector
from services.collector.service import IngestProgress
from services.collector.tracker import Tracker


class Reading:
    """The two parts of the collector's reading that the figures look at."""

    def __init__(self) -> None:
        self.dirty: dict[str, object] = {}
        self.tracker = Tracker()


def _cursor(path: Path, offset: int) -> FileCursor:
    st = path.stat()
    return FileCursor(str(path), st.st_dev, st.st_ino, offset, 0, "")


def _log(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(b"x" * size)
    return path


def _progress(reading: Reading) -> tuple[IngestProgress, Collector]:
    collector = cast(Collector, reading)
    progress = IngestProgress()
    progress.note_requested(collector)
    return progress, collector


def _figures(progress: IngestProgress, collector: Collector, *names: str) -> tuple[int, ...]:
    """These ``ingest_<name>`` figures, in order."""
    figures = progress.figures(collector)
    return tuple(figures[f"ingest_{name}"] for name in names)


def test_new_files_make_a_run(tmp_path: Path) -> None:
    """Files with unread bytes make run 1: their count and bytes, none read yet, active."""
    reading = Reading()
    reading.dirty = {str(_log(tmp_path, "a", 100)): None, str(_log(tmp_path, "b", 50)): None}
    progress, collector = _progress(reading)
    assert (1, 2, 0, 150, 0, 1) == _figures(
        progress, collector, "run", "files", "files_done", "bytes", "bytes_read", "active"
    )


def test_only_bytes_after_the_committed_cursor_count(tmp_path: Path) -> None:
    """A file read up to a cursor counts only the bytes after it."""
    path = _log(tmp_path, "a", 100)
    reading = Reading()
    reading.tracker.positions[str(path)] = _cursor(path, 60)
    reading.dirty = {str(path): None}
    progress, collector = _progress(reading)
    assert 40 == progress.figures(collector)["ingest_bytes"]


def test_files_with_nothing_new_make_no_run(tmp_path: Path) -> None:
    """A full rescan of files already read makes no run (no bar in otm up)."""
    path = _log(tmp_path, "a", 100)
    reading = Reading()
    reading.tracker.positions[str(path)] = _cursor(path, 100)
    reading.dirty = {str(path): None}
    progress, collector = _progress(reading)
    assert (0, 0) == (progress.figures(collector)["ingest_run"], len(progress.files))


def test_bytes_read_follow_the_position(tmp_path: Path) -> None:
    """Bytes read are the distance from the run's start to the file's current position."""
    path = _log(tmp_path, "a", 100)
    reading = Reading()
    reading.dirty = {str(path): None}
    progress, collector = _progress(reading)
    reading.tracker.positions[str(path)] = _cursor(path, 30)
    assert 30 == progress.figures(collector)["ingest_bytes_read"]


def test_run_ends_once_read_and_committed(tmp_path: Path) -> None:
    """Every file read and nothing in flight: the run is done and no longer active."""
    path = _log(tmp_path, "a", 100)
    reading = Reading()
    reading.dirty = {str(path): None}
    progress, collector = _progress(reading)
    batch = UsageBatch(
        batch_id="b1", provider="claude", source=str(path), before=None, after=_cursor(path, 100)
    )
    reading.tracker.sent(batch)
    reading.dirty.clear()
    in_flight = progress.figures(collector)["ingest_active"]
    reading.tracker.committed("b1")
    assert (1, 0, 1, 100) == (
        in_flight,
        *_figures(progress, collector, "active", "files_done", "bytes_read"),
    )


def test_new_bytes_after_a_run_start_the_next(tmp_path: Path) -> None:
    """New bytes once a run is over start run 2 with only the new file in it."""
    first = _log(tmp_path, "a", 100)
    reading = Reading()
    reading.dirty = {str(first): None}
    progress, collector = _progress(reading)
    reading.tracker.positions[str(first)] = _cursor(first, 100)
    reading.dirty.clear()
    progress.figures(collector)
    reading.dirty = {str(_log(tmp_path, "b", 10)): None}
    progress.note_requested(collector)
    assert (2, 1, 10) == _figures(progress, collector, "run", "files", "bytes")
