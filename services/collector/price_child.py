"""Resolving prices in a short-lived child process, so the collector never holds genai-prices.

genai-prices' catalogue costs a process about 24 MB that stays for its whole life, while the
collector needs it only when it meets a model it has not priced yet — a few times a week. The
always-on collector therefore asks a child (``python -m services.collector.price_child``) that
loads the catalogue, answers, and exits. A one-shot command resolves in its own process
(``resolve_here``): it exits soon anyway.

The child reads one msgpack ``PriceQuestion`` on stdin and writes a msgpack list of
``PriceObserved`` on stdout.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

import msgspec

from bus.messages import PriceObserved
from services.runtime.config import PriceOverride

CHILD_TIMEOUT_SECONDS = 60.0
"""Loading the catalogue takes ~0.3 s; a machine under heavy load may need far longer."""

Resolver = Callable[[Sequence[tuple[str, str]], Mapping[str, PriceOverride]], list[PriceObserved]]
"""Prices for (provider, model) pairs under the overrides, in the same order."""


class PriceQuestion(msgspec.Struct, frozen=True):
    """What the child is asked: these models under these overrides."""

    models: tuple[tuple[str, str], ...]
    overrides: dict[str, PriceOverride] = {}


class PricingFailed(Exception):
    """The child could not answer (a broken install, a crash, a time-out)."""


_answer_decoder = msgspec.msgpack.Decoder(list[PriceObserved])


def resolve_here(
    models: Sequence[tuple[str, str]], overrides: Mapping[str, PriceOverride]
) -> list[PriceObserved]:
    """Resolve in this process (loads genai-prices into it)."""
    from services.collector.price_resolution import resolve_price

    return [resolve_price(provider, model, overrides) for provider, model in models]


def resolve_in_child(
    models: Sequence[tuple[str, str]], overrides: Mapping[str, PriceOverride]
) -> list[PriceObserved]:
    """Resolve in a child process; raise ``PricingFailed`` with its last words if it fails."""
    if not models:
        return []
    question = msgspec.msgpack.encode(PriceQuestion(tuple(models), dict(overrides)))
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=question,
            capture_output=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PricingFailed(f"the pricing child did not answer: {exc}") from exc
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise PricingFailed(f"the pricing child exited with {done.returncode}: {last[0]}")
    try:
        answer = _answer_decoder.decode(done.stdout)
    except msgspec.DecodeError as exc:
        raise PricingFailed(f"the pricing child's answer is unreadable: {exc}") from exc
    if [(a.provider, a.model) for a in answer] != list(models):
        raise PricingFailed("the pricing child answered for other models than asked")
    return answer


def resolve_in_child_or_here(
    models: Sequence[tuple[str, str]], overrides: Mapping[str, PriceOverride]
) -> list[PriceObserved]:
    """The collector's resolver: a child, or this process (logged) when no child can answer —
    a price is never left out because the lighter way failed."""
    try:
        return resolve_in_child(models, overrides)
    except PricingFailed as exc:
        import structlog

        structlog.get_logger().bind(process="collector").warning(
            "pricing_child_failed", message=str(exc), fallback="resolving in the collector"
        )
        return resolve_here(models, overrides)


def main() -> None:
    """Answer one ``PriceQuestion`` from stdin on stdout."""
    question = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=PriceQuestion)
    answer = resolve_here(question.models, question.overrides)
    sys.stdout.buffer.write(msgspec.msgpack.encode(answer))


if __name__ == "__main__":
    main()
