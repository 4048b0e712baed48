"""Peak resident memory of the stack's processes, sampled in a background thread; CPU time."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psutil

SAMPLE_SECONDS = 0.1


def tree_rss(pid: int) -> int:
    """RSS of a process plus all its descendants, in bytes (0 if it is gone)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its reaped children) used so far; 0 if gone."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system + t.children_user + t.children_system)


class RssSampler:
    """Samples every ``SAMPLE_SECONDS`` the processes ``pids()`` names, keeping the maxima.

    ``peaks`` is each process's own maximum; ``peak_total`` the largest sum seen in one sample,
    i.e. the most the whole stack held at once.
    """

    def __init__(self, pids: Callable[[], dict[str, int]]) -> None:
        self._pids = pids
        self.peaks: dict[str, int] = {}
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        """Take one sample now."""
        total = 0
        for name, pid in self._pids().items():
            rss = tree_rss(pid)
            total += rss
            self.peaks[name] = max(self.peaks.get(name, 0), rss)
        self.peak_total = max(self.peak_total, total)

    @property
    def sum_of_peaks(self) -> int:
        """Each process's peak added up: an upper bound on ``peak_total``."""
        return sum(self.peaks.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)
