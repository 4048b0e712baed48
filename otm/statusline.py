"""``otm statusline``: the one line Claude Code shows under its prompt.

Claude Code runs the configured command on every status update, pipes it a JSON object and shows
the first line printed. This command reads at most 1 MB of that JSON (every field optional) and:

* records its ``rate_limits`` as an official observation (``source="local-official"``): the
  windows go to the spool (``services.runtime.spool``) for the collector to publish, unless the
  spool already holds the same windows observed less than a minute ago;
* prints model, Claude's cost today (local date, from the store's projections, priced exactly as
  ``otm report daily`` prices it), the session's cost as Claude Code reports it, and the 5-hour
  and weekly windows with the time left to their reset, e.g.
  ``Opus 4.1 · today $12.34 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)``.
  Without ``rate_limits`` (older Claude Code, API-key users) the windows come from the store's
  ``limits`` projection, marked with their age, and only while they are fresh.

It only reads the database (read-only, waiting at most a few milliseconds for a lock) and never
catches up the logs: with the stack stopped, today's cost is as of the last catch-up (the next
``otm report`` or the stack brings it up to date). It must answer in well under 50 ms, so it
imports nothing heavy — no msgspec, no ``bus.messages``, no typer (``otm.entry`` dispatches here
before the CLI is imported). What it shares with those modules is mirrored here, and the tests
hold each mirror equal to its original: the spool file's JSON (``LimitsObserved``), the msgpack
of committed prices and windows, the pricing arithmetic (``services.queries.costs``), the
staleness rule (``services.queries.reports.limits``), the state directory (``bus.endpoints``) and
the demo rule (``services.runtime.installation``).

It never raises and never prints a traceback: garbage input, a missing or locked database or an
unwritable state directory still give a useful line and exit status 0. Output is plain text
(nothing to strip for ``NO_COLOR``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

from services.queries.msgpack_lite import decode_struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from datetime import tzinfo
    from typing import BinaryIO

MAX_INPUT_BYTES = 1024 * 1024
"""Claude Code's status JSON is a few hundred bytes; anything over this is not it."""
SPOOL_NAME = "claude-statusline"
"""The spool file (``<state>/spool/claude-statusline.json``) this command keeps replacing."""
UNCHANGED_SECONDS = 60.0
"""Identical windows observed less than this long ago are not written again."""
STALE_AFTER_SECONDS = 15 * 60
"""Mirror of ``services.queries.reports.limits.STALE_AFTER_SECONDS``: older stored windows are not
shown."""
WINDOWS: tuple[tuple[str, str, int | None], ...] = (
    ("five_hour", "5h", 18_000),
    ("seven_day", "week", 604_800),
    ("spend_limit", "spend", None),
)
"""Claude's windows in ``rate_limits``: name, label on the line, length in seconds (``None``:
not a fixed span).

FORMATS-style note (late 2026): Claude Code 2.1.251 added ``rate_limits.spend_limit``, a spend
cap rather than a usage window; FORMATS.md names it and says its percentage can exceed 100
but gives no exact shape. It is read like its siblings (assumed, not seen in a real payload)::

    "rate_limits": {"five_hour": {...}, "seven_day": {...},
                    "spend_limit": {"used_percentage": 130.0, "resets_at": 1780272000}}

Its percentage is kept as sent, above 100 included (never clamped here or downstream); its
length is unknown, so it is recorded without ``window_seconds``."""
DETAIL = "Claude Code statusline"
SEPARATOR = " · "
NO_INPUT = "otm: no status input"
LOCK_WAIT_SECONDS = 0.02
"""How long to wait for a locked database before leaving today's cost out."""
SLOT_SECONDS = 15 * 60
"""Mirror of the projection's slot (``services.store.schema.SLOT_MS``)."""
_PUSD_PER_TOKEN_PER_USD_PER_MTOK = 10**6
_PUSD_PER_SEARCH_PER_USD_PER_K = 10**9
_PUSD_PER_USD = 10**12
_EPOCH_MS_ABOVE = 1e11
"""A ``resets_at`` number above this is epoch milliseconds (1e11 s is the year 5138)."""


class Window:
    """One rate-limit window to show (and, from the input, to record)."""

    __slots__ = ("name", "observed_at", "resets_at", "stored", "used_percent")

    def __init__(
        self,
        name: str,
        used_percent: float,
        resets_at: float | None,
        observed_at: float,
        stored: bool = False,
    ) -> None:
        self.name = name
        self.used_percent = used_percent
        self.resets_at = resets_at
        self.observed_at = observed_at
        self.stored = stored
        """Read from the store's ``limits`` projection rather than from this input."""

    def key(self) -> tuple[str, float, float | None]:
        """What makes two observations of a window the same observation."""
        return (self.name, self.used_percent, self.resets_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Window):
            return NotImplemented
        return (*self.key(), self.observed_at, self.stored) == (
            *other.key(),
            other.observed_at,
            other.stored,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Window({self.name!r}, {self.used_percent!r}, {self.resets_at!r}, "
            f"{self.observed_at!r}, stored={self.stored!r})"
        )


class TodayCost:
    """Claude's cost on the local date: exact pico-dollars of the priced models, and whether
    some model used today has no price (its dollars are then missing, never guessed)."""

    __slots__ = ("pusd", "unpriced")

    def __init__(self, pusd: int, unpriced: bool) -> None:
        self.pusd = pusd
        self.unpriced = unpriced

    def text(self) -> str:
        """``$12.34``, or ``$12.34+?`` when part of today is unpriced."""
        return f"${self.pusd / _PUSD_PER_USD:.2f}{'+?' if self.unpriced else ''}"


# -- the command ------------------------------------------------------------------------------


def run(
    stdin: BinaryIO | None = None, stdout: BinaryIO | None = None, now: float | None = None
) -> int:
    """Read the status JSON, record its limits, print the line; always 0.

    ``stdin``/``stdout`` default to the process's own (as bytes); ``now`` to the clock.
    """
    try:
        line = status_line(stdin, now)
    except Exception:  # never a traceback in the user's status bar
        line = NO_INPUT
    out = stdout if stdout is not None else _stdout()
    try:
        if out is not None:
            out.write(line.encode("utf-8", "replace") + b"\n")
            out.flush()
    except (OSError, ValueError):
        pass  # Claude Code went away (closed pipe): nobody to tell
    return 0


def status_line(stdin: BinaryIO | None = None, now: float | None = None) -> str:
    """The line for the input on ``stdin`` (default: this process's), after recording it."""
    now = time.time() if now is None else now
    data, problem = read_input(_stdin() if stdin is None else stdin)
    state = state_directory()
    windows = input_windows(data, now)
    recordable = [w for w in windows.values() if w.resets_at is None or w.resets_at > now]
    if recordable:
        record(state, recordable, now)
    today: TodayCost | None = None
    conn = open_database(database_path(state))
    if conn is not None:
        try:
            today = read_database(conn, now, windows)
        finally:
            conn.close()
    return format_line(data, today, windows, now, problem)


def read_database(
    conn: sqlite3.Connection, now: float, windows: dict[str, Window]
) -> TodayCost | None:
    """Today's cost (``None`` if it cannot be read), and the store's fresh windows added to
    ``windows`` for those the input lacks. A locked, half-migrated or foreign database leaves
    out what it cannot give; a locked one is not waited for twice."""
    import sqlite3

    today = None
    try:
        today = today_cost(conn, now)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return None
    except Exception:
        pass  # e.g. not a database, or a price that is not a number
    missing = [name for name, _, _ in WINDOWS if name not in windows]
    if missing:
        import contextlib

        # Windows are optional: the line stands without them.
        with contextlib.suppress(Exception):
            windows.update(stored_windows(conn, now, missing))
    return today


def _stdin() -> BinaryIO | None:
    stream = sys.stdin
    return None if stream is None else getattr(stream, "buffer", None)


def _stdout() -> BinaryIO | None:
    stream = sys.stdout
    return None if stream is None else getattr(stream, "buffer", None)


# -- input ------------------------------------------------------------------------------------


def read_input(stream: BinaryIO | None) -> tuple[dict[str, object], str]:
    """The status JSON object, or ``{}`` and a short reason it is unusable (``""`` if fine)."""
    if stream is None:
        return {}, NO_INPUT
    try:
        if stream.isatty():
            return {}, f"{NO_INPUT} (Claude Code pipes its status JSON here)"
        raw = stream.read(MAX_INPUT_BYTES + 1)
    except (OSError, ValueError):
        return {}, NO_INPUT
    if len(raw) > MAX_INPUT_BYTES:
        return {}, f"{NO_INPUT} (over 1 MB)"
    if not raw.strip():
        return {}, NO_INPUT
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}, f"{NO_INPUT} (not JSON)"
    if not isinstance(data, dict):
        return {}, f"{NO_INPUT} (not a JSON object)"
    return data, ""


def parse_used(value: object) -> float | None:
    """A ``used_percentage``: a finite, non-negative number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def parse_resets_at(value: object) -> float | None:
    """Epoch seconds of a ``resets_at``: epoch seconds, epoch milliseconds (any number above
    1e11), either as a numeric string, or an ISO 8601 time (UTC when it names no offset)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return _parse_iso(text)
    if not isinstance(value, int | float):
        return None
    seconds = float(value)
    if seconds > _EPOCH_MS_ABOVE:
        seconds /= 1000.0
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _parse_iso(text: str) -> float | None:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    except (ValueError, OverflowError):
        return None
    return seconds if seconds > 0 else None


def input_windows(data: dict[str, object], now: float) -> dict[str, Window]:
    """The windows of ``rate_limits`` that carry a numeric ``used_percentage``, by name."""
    limits = data.get("rate_limits")
    if not isinstance(limits, dict):
        return {}
    found: dict[str, Window] = {}
    for name, _, _ in WINDOWS:
        entry = limits.get(name)
        if not isinstance(entry, dict):
            continue
        used = parse_used(entry.get("used_percentage"))
        if used is not None:
            found[name] = Window(name, used, parse_resets_at(entry.get("resets_at")), now)
    return found


# -- recording --------------------------------------------------------------------------------


def spool_path(state: str) -> str:
    """``<state>/spool/claude-statusline.json`` (``services.runtime.spool``'s layout)."""
    return os.path.join(state, "spool", f"{SPOOL_NAME}.json")


def record(state: str, windows: list[Window], now: float) -> bool:
    """Spool ``windows`` as one ``LimitsObserved``, unless the spool already holds the same
    windows observed less than `UNCHANGED_SECONDS` ago; whether it wrote. An unwritable state
    dir costs the recording, never the line: it is not an error here."""
    target = spool_path(state)
    if spool_holds(target, windows, now):
        return False
    body = observation_json(windows, now, f"statusline:{time.time_ns()}")
    # services.runtime.spool.write_observation's steps (readers never see half a file), without
    # msgspec.
    folder = os.path.dirname(target)
    temporary = os.path.join(folder, f".{SPOOL_NAME}.{os.getpid()}.tmp")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(body)
        os.replace(temporary, target)
    except OSError:
        return False
    return True


def spool_holds(path: str, windows: list[Window], now: float) -> bool:
    """Whether the spool file at ``path`` already says the same about the same windows, and
    says it from less than `UNCHANGED_SECONDS` ago."""
    try:
        with open(path, "rb") as handle:
            held = json.loads(handle.read(64 * 1024))
        observed_at = float(held["observed_at"])
        keys = {
            (w["window"], float(w["used_percent"]), _optional_float(w.get("resets_at")))
            for w in held["windows"]
        }
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return False
    fresh = 0 <= now - observed_at < UNCHANGED_SECONDS
    return fresh and keys == {w.key() for w in windows}


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def observation_json(windows: list[Window], now: float, observation_id: str) -> bytes:
    """``msgspec.json.encode`` of ``bus.messages.LimitsObserved`` for these windows, field for
    field (a test decodes it with msgspec and compares)."""
    lengths = {name: seconds for name, _, seconds in WINDOWS}
    body = {
        "type": "obs.limits",
        "observation_id": observation_id,
        "provider": "claude",
        "source": "local-official",
        "observed_at": float(now),
        "windows": [
            {
                "provider": "claude",
                "window": w.name,
                "used_percent": float(w.used_percent),
                "observed_at": float(now),
                "source": "local-official",
                "resets_at": w.resets_at,
                "window_seconds": lengths[w.name],
                "detail": DETAIL,
            }
            for w in windows
        ],
        "credits": [],
        "status": None,
    }
    return json.dumps(body, separators=(",", ":")).encode()


# -- where the database is --------------------------------------------------------------------


def state_directory() -> str:
    """``bus.endpoints.state_dir()``: ``$OTM_HOME``, else the platform's user data dir."""
    env = os.environ.get("OTM_HOME")
    if env:
        return os.path.expanduser(env)
    import platformdirs

    return str(platformdirs.user_data_dir("opentokenmonitor", appauthor=False))


def database_path(state: str) -> str:
    """The database ``services.runtime.installation`` would use: ``demo.db`` in demo mode, else
    ``otm.db``.

    Demo mode means ``OTM_DEMO=1``, or no Claude Code, Codex or Gemini data anywhere. Under
    Claude Code its data exists, so the cheap checks decide; only when they cannot (no
    ``CLAUDE_CONFIG_DIR``, no default Claude folder) and there is a database to read is the
    full rule run (it loads the config: some 30 ms).
    """
    real, demo = os.path.join(state, "otm.db"), os.path.join(state, "demo.db")
    if os.environ.get("OTM_DEMO") == "1":
        return demo
    if os.environ.get("CLAUDE_CONFIG_DIR") or any(os.path.isdir(p) for p in _claude_defaults()):
        return real
    if not os.path.isfile(real) and not os.path.isfile(demo):
        return real  # nothing to read whichever it is
    try:
        from services.runtime.installation import load_runtime

        return str(load_runtime().db_path)
    except Exception:
        return real


def _claude_defaults() -> tuple[str, str]:
    """Claude Code's default ``projects/`` folders (``services.collector.claude.roots``)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    config_home = os.path.expanduser(xdg) if xdg else os.path.join(home, ".config")
    return (
        os.path.join(config_home, "claude", "projects"),
        os.path.join(home, ".claude", "projects"),
    )


def open_database(path: str) -> sqlite3.Connection | None:
    """A read-only connection to ``path``, or ``None`` if there is no usable database."""
    if not os.path.isfile(path):
        return None
    import sqlite3

    quoted = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    try:
        return sqlite3.connect(
            f"file:{quoted}?mode=ro", uri=True, timeout=LOCK_WAIT_SECONDS, check_same_thread=False
        )
    except sqlite3.Error:
        return None


# -- today's cost -----------------------------------------------------------------------------


def today_cost(conn: sqlite3.Connection, now: float, tz: str | None = None) -> TodayCost:
    """Claude's cost on ``now``'s local date in ``tz`` (default: the zone ``otm report`` uses),
    from the slot projection and the committed prices, as ``otm report daily`` computes it."""
    lo, hi = day_slots(now, tz)
    rows = conn.execute(
        "SELECT model, fast, long_context, sum(input), sum(output), sum(cache_write_5m),"
        " sum(cache_write_1h), sum(cache_read), sum(web_searches) FROM usage_by_slot"
        " WHERE provider = 'claude' AND slot >= ? AND slot < ?"
        " GROUP BY model, fast, long_context",
        (lo, hi),
    ).fetchall()
    prices = _prices(conn, sorted({row[0] for row in rows}))
    pusd, unpriced = 0, False
    for model, fast, long_context, *tokens, searches in rows:
        price = prices.get(model)
        try:
            if price is None:
                raise LookupError(model)
            rates = price_rates(price, long_context=bool(long_context), fast=bool(fast))
            per_search = search_rate(price)
        except (LookupError, ValueError, ArithmeticError):
            # As `otm report`: Claude's "<synthetic>" stubs (model "") name no model and cost
            # nothing; any other model without a usable price is unpriced, never $0.
            unpriced = unpriced or model != ""
            continue
        pusd += sum(count * rate for count, rate in zip(tokens, rates, strict=True))
        pusd += searches * per_search
    return TodayCost(pusd, unpriced)


def day_slots(now: float, tz: str | None = None) -> tuple[int, int]:
    """The projection slots of ``now``'s local date: ``lo <= slot < hi``."""
    from datetime import UTC, datetime, timedelta

    from services.queries.reports.timezones import local_timezone_name

    zone = _zone(tz or local_timezone_name())
    local = datetime.fromtimestamp(now, zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    end = (start + timedelta(days=1)).astimezone(UTC)
    # A slot belongs to the local date its start falls on.
    return _slot_ceil(start.timestamp()), _slot_ceil(end.timestamp())


def _slot_ceil(epoch: float) -> int:
    return -(-int(epoch) // SLOT_SECONDS)


def _zone(name: str) -> tzinfo:
    from datetime import UTC
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        return UTC


def _prices(conn: sqlite3.Connection, models: list[str]) -> dict[str, dict[str, object]]:
    """The committed price (a ``ModelPrice`` as a dict) of each model that has one."""
    if not models:
        return {}
    marks = ", ".join("?" * len(models))
    found: dict[str, dict[str, object]] = {}
    for model, blob in conn.execute(
        f"SELECT model, price FROM prices WHERE provider = 'claude' AND model IN ({marks})",
        models,
    ):
        if blob is None:
            continue
        price = decode_struct(bytes(blob), "price")
        if price is not None:
            found[model] = price
    return found


_PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def search_rate(price: dict[str, object]) -> int:
    """Pico-dollars per web search: ``services.queries.costs.PriceTable.web_search`` (one flat
    fee per search, whatever the tier or speed; 0 in a price committed before it existed)."""
    from decimal import ROUND_HALF_EVEN, Decimal

    text = price.get("web_searches_kcount", "0")
    value = Decimal(str(text))
    if not value.is_finite() or value < 0:
        raise ValueError(f"price {text!r} is not a finite number, zero or more")
    return int((value * _PUSD_PER_SEARCH_PER_USD_PER_K).to_integral_value(ROUND_HALF_EVEN))


def price_rates(
    price: dict[str, object], *, long_context: bool, fast: bool
) -> tuple[int, int, int, int, int]:
    """Pico-dollars per token of input, output, 5-minute and 1-hour cache writes and cache
    reads: ``services.queries.costs.PriceTable`` for this (long context, fast) combination."""
    from decimal import ROUND_HALF_EVEN, Decimal

    multiplier = Decimal(str(price.get("fast_multiplier", "1"))) if fast else Decimal(1)
    tiered = long_context and price.get("long_context_threshold") is not None
    rates = []
    for name in _PRICE_FIELDS:
        text = price.get(f"long_context_{name}") if tiered else None
        if text is None:
            text = price[name]
        value = Decimal(str(text))
        if not value.is_finite() or value < 0:
            raise ValueError(f"price {text!r} is not a finite number, zero or more")
        exact = value * multiplier * _PUSD_PER_TOKEN_PER_USD_PER_MTOK
        rates.append(int(exact.to_integral_value(rounding=ROUND_HALF_EVEN)))
    inp, out, cw5, cw1, cr = rates
    return inp, out, cw5, cw1, cr


# -- stored windows ---------------------------------------------------------------------------


def stored_windows(conn: sqlite3.Connection, now: float, names: list[str]) -> dict[str, Window]:
    """Claude's windows ``names`` from the store's ``limits`` projection, those not stale by
    ``services.queries.reports.limits.stale_reason``: observed less than `STALE_AFTER_SECONDS`
    ago, not past their reset, and not followed by a failed live poll."""
    marks = ", ".join("?" * len(names))
    failed_at = live_failure_at(conn)
    found: dict[str, Window] = {}
    for name, blob in conn.execute(
        "SELECT window_name, observation FROM limits"
        f" WHERE provider = 'claude' AND window_name IN ({marks}) AND observed_at > ?",
        (*names, now - STALE_AFTER_SECONDS),
    ):
        window = decode_struct(bytes(blob), "window")
        if window is None:
            continue
        used = parse_used(window.get("used_percent"))
        observed = window.get("observed_at")
        resets = window.get("resets_at")
        if used is None or not isinstance(observed, int | float):
            continue
        resets_at = float(resets) if isinstance(resets, int | float) else None
        stale = now - observed > STALE_AFTER_SECONDS or (failed_at or 0.0) > observed
        if stale or (resets_at is not None and resets_at <= now):
            continue
        found[name] = Window(name, used, resets_at, float(observed), stored=True)
    return found


def live_failure_at(conn: sqlite3.Connection) -> float | None:
    """When Claude's last live poll was checked, if it did not succeed (``provider_status``);
    ``None`` when it succeeded, never ran, or the database predates the table."""
    import sqlite3

    try:
        row = conn.execute(
            "SELECT status FROM provider_status WHERE provider = 'claude'"
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    status = None if row is None else decode_struct(bytes(row[0]), "status")
    if status is None or status.get("state") == "ok":
        return None
    checked = status.get("checked_at")
    return float(checked) if isinstance(checked, int | float) else None


# -- the line ---------------------------------------------------------------------------------


def format_line(
    data: dict[str, object],
    today: TodayCost | None,
    windows: dict[str, Window],
    now: float,
    problem: str = "",
) -> str:
    """Model, today's cost, session cost and windows, joined by `` · ``; ``problem`` first."""
    parts = [problem] if problem else []
    model = model_name(data)
    if model:
        parts.append(model)
    if today is not None:
        parts.append(f"today {today.text()}")
    session = session_cost(data)
    if session is not None:
        parts.append(f"session ${session:.2f}")
    for name, label, _ in WINDOWS:
        window = windows.get(name)
        if window is not None:
            parts.append(f"{label} {window_text(window, now)}")
    return SEPARATOR.join(parts) if parts else "otm: no usage data yet"


def model_name(data: dict[str, object]) -> str:
    """``model.display_name``, else ``model.id``, on one line; ``""`` if neither is text."""
    model = data.get("model")
    if isinstance(model, str):
        return _one_line(model)
    if not isinstance(model, dict):
        return ""
    for key in ("display_name", "id"):
        value = model.get(key)
        if isinstance(value, str) and value.strip():
            return _one_line(value)
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())[:60]


def session_cost(data: dict[str, object]) -> float | None:
    """``cost.total_cost_usd`` when it is a finite, non-negative number."""
    cost = data.get("cost")
    if not isinstance(cost, dict):
        return None
    return parse_used(cost.get("total_cost_usd"))


def window_text(window: Window, now: float) -> str:
    """``23% (2h13m)``; ``—`` once the reset has passed (the percentage no longer applies);
    a window read from the store also says how old it is: ``23% (2h13m, 4m ago)``."""
    if window.resets_at is not None and window.resets_at <= now:
        return "—"
    notes = []
    if window.resets_at is not None:
        notes.append(format_duration(window.resets_at - now))
    if window.stored:
        notes.append(f"{format_duration(now - window.observed_at)} ago")
    percent = f"{math.floor(window.used_percent)}%"
    return f"{percent} ({', '.join(notes)})" if notes else percent


def format_duration(seconds: float) -> str:
    """``<1m``, ``45m``, ``2h13m`` or ``3d4h``."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"
