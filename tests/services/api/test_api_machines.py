"""Machines over HTTP: ``?machine=`` on the reports, ``/v1/machines``, the error shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx
import msgspec
import pytest

from bus.messages import Message
from services.runtime.installation import Runtime
from tests.services.api.api_support import Api, price_observed, usage_batch

WriteDirect = Callable[[Iterable[Message]], None]
DESK = "d" * 32

pytestmark = pytest.mark.e2e


def _two_machines(write_direct: WriteDirect) -> None:
    """Batches 1-3 from the store's own machine, 4-5 from a machine named ``desk``."""
    desk = [
        msgspec.structs.replace(usage_batch(n), machine=DESK, machine_name="desk") for n in (4, 5)
    ]
    write_direct([price_observed(), *(usage_batch(n) for n in (1, 2, 3)), *desk])


def _tokens(api: Api, **params: str) -> int:
    """The daily report's total tokens for ``params``."""
    response = httpx.get(f"{api.url}/v1/usage/daily", params=params)
    return int(response.json()["totals"]["totalTokens"])


def test_usage_filtered_by_machine_parts_add_up_to_the_whole(
    runtime: Runtime, write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """``?machine=desk`` and ``?machine=<own id>`` add up to the unfiltered report."""
    _two_machines(write_direct)
    api = start_api()
    parts = [_tokens(api, machine="desk"), _tokens(api, machine=runtime.machine.id)]
    assert (_tokens(api), True) == (sum(parts), all(parts))


def test_an_unknown_machine_is_a_400_in_the_one_error_shape(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """``?machine=`` naming no machine answers 400 ``{"error": ...}`` naming the known ones."""
    _two_machines(write_direct)
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/daily", params={"machine": "attic"})
    assert (400, ["error"], True) == (
        response.status_code,
        list(response.json()),
        "'attic' matches no machine" in response.json()["error"],
    )


def test_machines_route_lists_each_machine_in_camel_case(
    runtime: Runtime, write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """``/v1/machines`` lists both machines, the store's own marked local, shares summing to 1."""
    _two_machines(write_direct)
    api = start_api()
    machines = httpx.get(f"{api.url}/v1/machines").json()["machines"]
    expected = [(runtime.machine.id, True), (DESK, False)]
    assert (sorted(expected), 1.0) == (
        sorted((m["id"], m["local"]) for m in machines),
        round(sum(m["share"] for m in machines), 3),
    )


def test_machines_route_keys(write_direct: WriteDirect, start_api: Callable[[], Api]) -> None:
    """Each machine entry has exactly the documented camelCase keys."""
    _two_machines(write_direct)
    api = start_api()
    (first, *_) = httpx.get(f"{api.url}/v1/machines").json()["machines"]
    expected = ["id", "name", "firstSeen", "lastSeen", "totalTokens", "totalCost", "share", "local"]
    assert expected == list(first)
