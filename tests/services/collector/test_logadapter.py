"""What every provider adapter shares: knowing its files, trouble counts, building batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bus.messages import FileCursor, LimitWindow, SkipCounts, UsageBatch
from services.collector.logadapter import LogAdapter
from services.collector.logfile import Increment
from services.collector.rootpaths import RootScan
from services.collector.tracker import batch_id
from tests.helpers import cursor, record

ROOT = Path("/logs")
SOURCE = "/logs/p/s.jsonl"


@dataclass(frozen=True)
class Log:
    """A file as the test provider describes it."""

    path: str


class Adapter(LogAdapter[Log]):
    """A provider whose files are the ``.jsonl`` paths under its roots."""

    provider = "test"

    def all_files(self) -> list[str]:
        """Nothing on disk."""
        return []

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """Not read in these tests."""
        return None, False

    def _locate(self, path: str) -> Log | None:
        """Any ``.jsonl`` path under a root."""
        under = any(Path(path).is_relative_to(root) for root in self.roots)
        return Log(path) if under and path.endswith(".jsonl") else None


def adapter() -> Adapter:
    """An adapter over ``ROOT``."""
    return Adapter([ROOT])


def test_owns_a_file_under_a_root() -> None:
    """A path ``_locate`` accepts is owned."""
    expected = True
    assert expected == adapter().owns(SOURCE)


def test_does_not_own_a_file_elsewhere() -> None:
    """A path ``_locate`` rejects is not owned."""
    expected = False
    assert expected == adapter().owns("/elsewhere/s.jsonl")


def test_lookup_remembers_what_it_found() -> None:
    """A located file is remembered (and not located again)."""
    a = adapter()
    first = a.lookup(SOURCE)
    a.roots = []
    expected = first
    assert expected == a.lookup(SOURCE)


def test_rescan_returns_files_root_by_root() -> None:
    """Every root's files come back in root order."""
    scans = {Path("/a"): [Log("/a/1")], Path("/b"): [Log("/b/2")]}
    found = adapter()._rescan(scans, lambda root, _listings: RootScan(files=list(scans[root])))
    expected = [Log("/a/1"), Log("/b/2")]
    assert expected == found


def test_rescan_counts_unreadable_directories() -> None:
    """Directories that could not be listed are counted as ``unreadable_dirs``."""
    a = adapter()
    a._rescan([ROOT], lambda root, _listings: RootScan[Log](unreadable=["/logs/x", "/logs/y"]))
    expected = 2
    assert expected == a.problems["unreadable_dirs"]


def test_read_that_moved_makes_a_batch() -> None:
    """Records read from ``before`` to ``after`` become one batch with the tracker's id."""
    before, after = cursor(0, SOURCE), cursor(100, SOURCE)
    rec = record("m1")
    batch, _ = adapter()._finish_read(SOURCE, before, Increment([rec], after))
    expected = UsageBatch(
        batch_id=batch_id(SOURCE, before, after),
        provider="test",
        source=SOURCE,
        before=before,
        after=after,
        records=(rec,),
    )
    assert expected == batch


def test_more_is_passed_on() -> None:
    """The reader's ``more`` comes back with the batch."""
    expected = True
    assert (
        expected == adapter()._finish_read(SOURCE, None, Increment(after=cursor(10), more=True))[1]
    )


def test_read_that_moved_nothing_makes_no_batch() -> None:
    """Same cursor, no records, no limits: nothing to send."""
    same = cursor(100, SOURCE)
    expected = (None, False)
    assert expected == adapter()._finish_read(SOURCE, same, Increment(after=same))


def test_limits_alone_make_a_batch() -> None:
    """Rate-limit windows found without records still make a batch."""
    same = cursor(100, SOURCE)
    window = LimitWindow(
        provider="test", window="primary", used_percent=1.0, observed_at=0.0, source="estimated"
    )
    batch, _ = adapter()._finish_read(SOURCE, same, Increment(after=same), limits=(window,))
    expected = (window,)
    assert expected == (batch.limits if batch is not None else None)


def test_batch_id_can_be_replaced() -> None:
    """A provider's own ``make_id`` names the batch."""
    batch, _ = adapter()._finish_read(
        SOURCE, None, Increment(after=cursor(10)), make_id=lambda source, before, after: "mine"
    )
    expected = "mine"
    assert expected == (batch.batch_id if batch is not None else None)


def test_unreadable_file_is_counted() -> None:
    """A read that could not open the file counts it in ``unreadable_files``."""
    a = adapter()
    a._finish_read(SOURCE, None, Increment(skipped=SkipCounts(unreadable=1)))
    expected = 1
    assert expected == a.problems["unreadable_files"]


def test_unreadable_file_is_uncounted_once_read() -> None:
    """A file read again successfully leaves ``unreadable_files``."""
    a = adapter()
    a._finish_read(SOURCE, None, Increment(skipped=SkipCounts(unreadable=1)))
    a._finish_read(SOURCE, None, Increment(after=cursor(10)))
    expected = 0
    assert expected == a.problems["unreadable_files"]


def test_deleted_file_is_forgotten() -> None:
    """A file found gone is dropped from the known files."""
    a = adapter()
    a.lookup(SOURCE)
    a._finish_read(SOURCE, cursor(10), Increment(after=None))
    expected = False
    assert expected == (SOURCE in a._known)
