"""Built reports against ccusage, run by turns: one ``otm report`` (its kept answer removed
first), one ``ccusage`` and one ``python -I -c pass``, again and again, so a machine whose load
comes and goes (other work on 2 shared cores) weighs on both sides alike.

``python -m bench.reports_paired --sizes 10,30 --runs 7`` prints, per size, kind and form, the
median of each and ccusage's median over ours. It uses the corpora and state folders of
``bench.reports`` (catching up first if needed), with the stack stopped. ``--otm PATH`` times
another installed ``otm`` script (say one from ``pip install .``, as the README installs it,
rather than this editable checkout, whose import hook costs every import), with the
interpreter of its own environment as the floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench import ccusage
from bench.pipeline import otm_command
from bench.reports import (
    DEFAULT_CACHE,
    FORMS,
    KINDS,
    catch_up,
    ccusage_report,
    otm_report,
    timed,
)
from bench.stack import stack_env
from bench.statusline import claude_corpus


def paired(
    size: float, runs: int, cache_dir: Path, binary: Path, otm: str | None = None
) -> list[dict[str, object]]:
    """Every kind and form of one size, timed by turns; one dict of medians per case."""
    claude_dir, _ = claude_corpus(cache_dir, size, 1)
    place = cache_dir / f"reports-{size:g}-1"
    home, live = place / "home", place / "live"
    (live / "projects").mkdir(parents=True, exist_ok=True)
    dirs = f"{claude_dir},{live}"
    env = stack_env(home, {"CLAUDE_CONFIG_DIR": dirs})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    script = otm_command() if otm is None else [otm]
    catch_up(script, env)
    time.sleep(6)  # past catchup_snapshot.QUIET_SECONDS, so the next report skips the scan
    catch_up(script, env)
    ccusage_home = place / "ccusage-home"
    ccusage_home.mkdir(parents=True, exist_ok=True)
    ccusage_env = ccusage.isolated_env(ccusage_home, {"CLAUDE_CONFIG_DIR": dirs})
    answers = home / "run" / "answers"
    python = sys.executable if otm is None else str(Path(otm).parent / "python")

    def ours_command(kind: str, form: str) -> list[str]:
        return otm_report(script, kind, form)

    def forget() -> None:
        shutil.rmtree(answers, ignore_errors=True)

    out = []
    for kind in KINDS:
        for form in FORMS:
            ours: list[float] = []
            theirs: list[float] = []
            floor: list[float] = []
            ccusage_command = ccusage_report(binary, kind, form)
            for _ in range(runs):
                ours += timed(ours_command(kind, form), env, 1, before=forget)
                theirs += timed(ccusage_command, ccusage_env, 1, cwd=ccusage_home)
                floor += timed([python, "-I", "-c", "pass"], env, 1)
            otm_s, ccusage_s = statistics.median(ours), statistics.median(theirs)
            floor_s = statistics.median(floor)
            out.append(
                {
                    "size_mb": size,
                    "case": f"{kind}/{form}",
                    "otm_built_s": otm_s,
                    "ccusage_s": ccusage_s,
                    "python_floor_s": floor_s,
                    "ratio": ccusage_s / otm_s,
                }
            )
            print(
                f"{size:g} MB  {kind:8} {form:5}  otm {otm_s * 1000:5.0f} ms"
                f"  ccusage {ccusage_s * 1000:5.0f} ms  floor {floor_s * 1000:4.0f} ms"
                f"  ratio {ccusage_s / otm_s:.2f}x",
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.reports_paired", description=__doc__)
    p.add_argument("--sizes", default="10,30", help="corpus sizes in MB (default 10,30)")
    p.add_argument("--runs", type=int, default=7, help="turns per case (default 7)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora, state, ccusage")
    p.add_argument("--otm", help="the otm script to time (default: this environment's)")
    args = p.parse_args(argv)
    binary = ccusage.ensure_installed(args.cache_dir)
    for size in (float(s) for s in args.sizes.split(",") if s):
        paired(size, args.runs, args.cache_dir, binary, args.otm)


if __name__ == "__main__":
    main()
