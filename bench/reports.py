"""The reports benchmark: every ``otm report`` kind, JSON and table, next to ccusage on the same
files in the same run.

Run ``python -m bench.reports --sizes 10,30,300,1000`` (``--help`` for the options). For each
size it:

1. takes the cached Claude corpus of that many MB (``bench.corpus``, generated on first use, read
   in place) plus an empty "live" folder, both in ``CLAUDE_CONFIG_DIR``, and brings a state
   folder kept under ``--cache-dir`` up to date with one ``otm report daily --json`` (timed: on
   the first run of a size this is the whole cold catch-up);
2. for every kind (daily weekly monthly session project blocks) and form (``--json``, table):
   times ``--runs`` runs of ``otm report <kind> --provider claude`` with the stack stopped
   (nothing new to catch up), once as usual (the answer kept from the previous identical run is
   printed again: ``otm.report_answers``) and once with the kept answers removed before each run
   (the report built from the projections: the snapshot check, the query and the drawing); then
   the same with the stack running (``bench.stack``);
3. times ``ccusage claude <kind> [--json] --offline -z UTC`` ``--ccusage-runs`` times on the same
   folders (ccusage has no project report: ``project`` is compared with its ``session``, which
   lists the same sessions; ``--no-ccusage`` skips it);
4. "new data, stack stopped": on a copy of the state folder, appends ``--new-mb`` MB of new
   transcripts to the live folder, step by step, and times the first report after each step
   (catch-up of the new bytes only, then the report): its seconds per new MB should not depend
   on the size of the history.

``otm`` is a regular install of this code (``bench.install``: what README's first command
gives a user; ``--install editable`` times this interpreter's instead, whose editable finder
adds ~5 ms to every start). Medians everywhere; ratios are ccusage's median over ours. Prints
a rich table, or ``--json``.
``measure(sizes, cache_dir)`` returns the same figures for an all-in-one bench command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import ccusage, install
from bench.pipeline import percentile
from bench.report import print_figures
from bench.stack import Stack, stack_env
from bench.statusline import claude_corpus, load_average, machine, start_stack

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
KINDS = ("daily", "weekly", "monthly", "session", "project", "blocks")
FORMS = ("json", "table")
CCUSAGE_KIND = {"project": "session"}
"""ccusage's closest report where it has none of that name."""
NEW_DATA_SEED = 7
Figures = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10,30", help="corpus sizes in MB (default 10,30)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--runs", type=int, default=7, help="timed otm runs per case (default 7)")
    p.add_argument("--ccusage-runs", type=int, default=3, help="ccusage runs per case (3)")
    p.add_argument("--kinds", default=",".join(KINDS), help="report kinds (default: all)")
    p.add_argument("--new-mb", default="1,10", help="MB appended per new-data step (1,10)")
    p.add_argument(
        "--with-stack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the reports with the stack running (default: yes)",
    )
    p.add_argument(
        "--install",
        choices=(install.REGULAR, install.EDITABLE),
        default=install.REGULAR,
        help="time the otm of a regular install of this code, as users have (default), or "
        "this interpreter's (a developer's editable install)",
    )
    p.add_argument("--no-ccusage", action="store_true", help="skip ccusage")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora, state, ccusage")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--timeout", type=float, default=3600.0, help="catch-up/stack seconds")
    args = p.parse_args(argv)
    if args.runs < 1 or args.ccusage_runs < 1:
        p.error("--runs and --ccusage-runs must be at least 1")
    return args


# -- timing -----------------------------------------------------------------------------------


def timed(
    command: list[str],
    env: dict[str, str],
    runs: int,
    before: Any = None,
    cwd: Path | None = None,
) -> list[float]:
    """Wall seconds of ``runs`` runs of ``command`` (``before()`` untimed before each)."""
    seconds = []
    for _ in range(runs):
        if before is not None:
            before()
        began = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True)
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]!r}")
    return seconds


def stats(seconds: list[float]) -> Figures:
    """Median, p95 and min of a timing, with every run."""
    return {
        "median_s": statistics.median(seconds),
        "p95_s": percentile(seconds, 95),
        "min_s": min(seconds),
        "runs_s": seconds,
    }


def python_floor(env: dict[str, str], runs: int) -> Figures:
    """``python -I -c pass`` with the same interpreter: what any Python command costs."""
    return stats(timed([sys.executable, "-I", "-c", "pass"], env, runs))


def otm_report(otm: list[str], kind: str, form: str) -> list[str]:
    """The ``otm report`` command line of a case, ``otm`` starting the installed script."""
    return [
        *otm,
        "report",
        kind,
        "--provider",
        "claude",
        *(["--json"] if form == "json" else []),
    ]


def ccusage_report(binary: Path, kind: str, form: str) -> list[str]:
    """The ccusage command line of a case (its closest report for ``project``)."""
    name = CCUSAGE_KIND.get(kind, kind)
    return [
        str(binary),
        "claude",
        name,
        *(["--json"] if form == "json" else []),
        "--offline",
        "-z",
        "UTC",
    ]


def otm_cases(
    otm: list[str],
    kinds: list[str],
    env: dict[str, str],
    home: Path,
    runs: int,
    log: Console,
    label: str,
) -> dict[str, Figures]:
    """Each kind and form: as usual (kept answers) and built (kept answers removed first)."""
    answers = home / "run" / "answers"

    def forget() -> None:
        shutil.rmtree(answers, ignore_errors=True)

    out: dict[str, Figures] = {}
    for kind in kinds:
        for form in FORMS:
            command = otm_report(otm, kind, form)
            timed(command, env, 1)  # warm-up: bytecode, page cache, the kept answer
            log.print(f"  otm report {kind} {form}, stack {label}")
            out[f"{kind}/{form}"] = {
                "usual": stats(timed(command, env, runs)),
                "built": stats(timed(command, env, runs, before=forget)),
            }
    return out


def ccusage_cases(
    binary: Path, kinds: list[str], dirs: str, work: Path, runs: int, log: Console
) -> dict[str, Figures]:
    """Each kind and form with ccusage, in its isolated environment (``bench.ccusage``)."""
    home = work / "ccusage-home"
    home.mkdir(parents=True, exist_ok=True)
    env = ccusage.isolated_env(home, {"CLAUDE_CONFIG_DIR": dirs})
    out: dict[str, Figures] = {}
    for kind in kinds:
        for form in FORMS:
            command = ccusage_report(binary, kind, form)
            log.print(f"  {' '.join(command[1:])}")
            out[f"{kind}/{form}"] = {
                "command": " ".join(["ccusage", *command[1:]]),
                **stats(timed(command, env, runs, cwd=home)),
            }
    return out


# -- one size ---------------------------------------------------------------------------------


def catch_up(otm: list[str], env: dict[str, str]) -> float:
    """One ``otm report daily --json`` (it catches up first): its wall seconds."""
    return statistics.median(timed(otm_report(otm, "daily", "json"), env, 1))


def new_data(
    otm: list[str],
    place: Path,
    claude_dir: Path,
    cache_dir: Path,
    steps: list[float],
    runs: int,
    log: Console,
) -> list[Figures]:
    """On a copy of the state folder: append each step's MB of new transcripts (new files of a
    freshly generated corpus) to an extra live folder and time the first report after it."""
    home, live = place / "new-home", place / "new-live"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(live, ignore_errors=True)
    home.mkdir(parents=True)
    for db in (place / "home").glob("otm.db*"):  # the database only: no sockets, no locks
        shutil.copy2(db, home / db.name)
    (live / "projects").mkdir(parents=True)
    env = stack_env(home, {"CLAUDE_CONFIG_DIR": f"{claude_dir},{live}"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    settle = catch_up(otm, env)  # a new root: the snapshot of the copy is made here
    time.sleep(6)  # past catchup_snapshot.QUIET_SECONDS, so the next check can skip
    quiet = stats(timed(otm_report(otm, "daily", "json"), env, runs))
    out: list[Figures] = [{"step_mb": 0, "report_s": settle, "nothing_new": quiet}]
    for i, mb in enumerate(steps):
        source, _ = claude_corpus(cache_dir, mb, NEW_DATA_SEED + i)
        added = 0
        for project in (source / "projects").iterdir():
            target = live / "projects" / f"new{i}-{project.name}"
            shutil.copytree(project, target)
            added += sum(p.stat().st_size for p in target.rglob("*.jsonl"))
        log.print(f"  new data: {added / 1e6:.1f} MB appended; otm report daily --json")
        first = catch_up(otm, env)
        out.append(
            {
                "step_mb": mb,
                "new_bytes": added,
                "report_s": first,
                "s_per_new_mb": first / (added / 1e6),
            }
        )
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(live, ignore_errors=True)
    return out


def measure_size(
    size: float, args: argparse.Namespace, binary: Path | None, log: Console
) -> Figures:
    """Every case of one corpus size, with the ``otm`` of ``args.install``."""
    otm = install.otm_command(args.install, args.cache_dir)
    cache_dir: Path = args.cache_dir
    kinds = [k for k in args.kinds.split(",") if k]
    log.print(f"[bold]{size:g} MB[/]")
    claude_dir, from_cache = claude_corpus(cache_dir, size, args.seed)
    place = cache_dir / f"reports-{size:g}-{args.seed}"
    home, live = place / "home", place / "live"
    (live / "projects").mkdir(parents=True, exist_ok=True)
    dirs = f"{claude_dir},{live}"
    env = stack_env(home, {"CLAUDE_CONFIG_DIR": dirs})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    log.print("  catching up (otm report daily --json)")
    figures: Figures = {
        "corpus": {
            "size_mb": size,
            "bytes": sum(p.stat().st_size for p in (claude_dir / "projects").rglob("*.jsonl")),
            "files": sum(1 for _ in (claude_dir / "projects").rglob("*.jsonl")),
            "from_cache": from_cache,
        },
        "catch_up_s": catch_up(otm, env),
        "python_floor": python_floor(env, args.runs),
        "database_bytes": sum(p.stat().st_size for p in home.glob("otm.db*")),
    }
    time.sleep(6)  # past catchup_snapshot.QUIET_SECONDS after a fresh corpus
    catch_up(otm, env)
    otm_figures: Figures = {"stopped": otm_cases(otm, kinds, env, home, args.runs, log, "stopped")}
    otm_figures["running"] = None
    if args.with_stack:
        stack = Stack(home, {"CLAUDE_CONFIG_DIR": dirs})
        try:
            start_stack(stack, [claude_dir, live], args.timeout, log)
            otm_figures["running"] = otm_cases(otm, kinds, env, home, args.runs, log, "running")
        finally:
            stack.stop_all()
    figures["otm"] = otm_figures
    figures["install"] = args.install
    figures["ccusage"] = (
        None
        if binary is None
        else ccusage_cases(binary, kinds, dirs, place, args.ccusage_runs, log)
    )
    steps = [float(x) for x in args.new_mb.split(",") if x]
    figures["new_data"] = new_data(
        otm, place, claude_dir, cache_dir, steps, max(3, args.runs // 2), log
    )
    figures["ratios"] = ratios(figures)
    return figures


def ratios(figures: Figures) -> Figures | None:
    """ccusage's median over ours, per case, stack state and way (usual, built)."""
    ccu = figures["ccusage"]
    if ccu is None:
        return None
    out: Figures = {}
    for state, cases in figures["otm"].items():
        if cases is None:
            continue
        for case, ways in cases.items():
            for way, s in ways.items():
                out[f"{case}/{state}/{way}"] = ccu[case]["median_s"] / s["median_s"]
    return out


def measure(sizes: list[float], cache_dir: Path, **options: Any) -> Figures:
    """The figures of every size (options as the command line's, by their dest names)."""
    argv = ["--sizes", ",".join(f"{s:g}" for s in sizes), "--cache-dir", str(cache_dir)]
    args = parse_args(argv)
    for name, value in options.items():
        setattr(args, name, value)
    return run(args, Console(stderr=True))


def run(args: argparse.Namespace, log: Console) -> Figures:
    """Every size, in order."""
    figures: Figures = {"machine": machine(), "sizes": {}}
    binary = None if args.no_ccusage else ccusage.ensure_installed(args.cache_dir)
    figures["ccusage_version"] = None if binary is None else ccusage.VERSION
    for size in (float(s) for s in args.sizes.split(",") if s):
        figures["sizes"][f"{size:g}"] = measure_size(size, args, binary, log)
    figures["machine"]["load_after"] = load_average()
    figures["machine"]["cpus_available"] = len(os.sched_getaffinity(0))
    return figures


# -- output -----------------------------------------------------------------------------------


def _ms(s: Figures | None) -> str:
    return "—" if s is None else f"{s['median_s'] * 1000:,.0f}"


def _x(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    colour = "green" if ratio > 1 else "red"
    return f"[{colour}]{ratio:,.1f}x[/]"


def render(figures: Figures, out: Console) -> None:
    """One table per size, then the new-data steps."""
    for size, f in figures["sizes"].items():
        c = f["corpus"]
        title = (
            f"{size} MB ({c['bytes'] / 1e6:,.0f} MB in {c['files']} files): otm report vs ccusage,"
            f" median ms; python -I -c pass {_ms(f['python_floor'])} ms;"
            f" otm from a {f.get('install', install.EDITABLE)} install"
        )
        table = Table(title=title, title_justify="left")
        for column in (
            "kind",
            "form",
            "ccusage",
            "stopped",
            "x",
            "stopped, built",
            "x",
            "running",
            "x",
            "running, built",
            "x",
        ):
            table.add_column(column, justify="left" if column in ("kind", "form") else "right")
        r = f["ratios"] or {}
        for case, stopped in f["otm"]["stopped"].items():
            kind, form = case.split("/")
            running = (f["otm"]["running"] or {}).get(case, {})
            ccu = None if f["ccusage"] is None else f["ccusage"][case]
            name = kind if kind not in CCUSAGE_KIND else f"{kind} (ccusage: {CCUSAGE_KIND[kind]})"
            cells = [name, form, _ms(ccu)]
            for state, ways in (("stopped", stopped), ("running", running)):
                for way in ("usual", "built"):
                    cells += [_ms(ways.get(way)), _x(r.get(f"{case}/{state}/{way}"))]
            table.add_row(*cells)
        out.print(table)
        out.print(
            f"catch-up before the runs {f['catch_up_s']:.2f} s; database"
            f" {f['database_bytes'] / 1e6:,.0f} MB"
        )
        steps = f["new_data"]
        shown = ", ".join(
            f"+{s['new_bytes'] / 1e6:.1f} MB: {s['report_s'] * 1000:,.0f} ms"
            f" ({s['s_per_new_mb'] * 1000:,.0f} ms/MB)"
            for s in steps[1:]
        )
        quiet = steps[0]["nothing_new"]
        out.print(
            f"new data, stack stopped (otm report daily --json): nothing new {_ms(quiet)} ms; "
            + shown
        )
    m = figures["machine"]
    out.print(
        f"{m['cpus']} CPUs, Python {m['python']}, load average before"
        f" {m['load_before'][0]:.2f}, after {m['load_after'][0]:.2f}"
        if m["load_before"] and m["load_after"]
        else f"{m['cpus']} CPUs, Python {m['python']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (a table, or JSON with ``--json``)."""
    args = parse_args(argv)
    print_figures(run(args, Console(stderr=True)), args.json, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
