"""The api process against its own OpenAPI document, with schemathesis over real HTTP.

Every documented operation is called with generated parameters (valid and invalid); each answer
must have a documented status, conform to its documented schema and content type, and never
be a 500. ``GET /v1/stream`` is left out: it is Server-Sent Events that never end, so there is
no whole answer to check (``test_api_stream`` covers it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case, checks

from bus.messages import Message
from tests.services.api.api_support import Api, price_observed, usage_batch

pytestmark = pytest.mark.e2e

EXAMPLES = 50
"""Per operation and mode: 7 operations stay well under a minute on a shared machine."""


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]
"""Not ``positive_data_acceptance``: a time zone or a calendar date (Feb 31) can be wrong in
ways no schema says, and those are documented 400s."""
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def test_every_operation_conforms_to_the_document(
    commit: Callable[[list[Message]], list[int]], start_api: Callable[[], Api]
) -> None:
    """Each documented operation answers only documented statuses and shapes, and no 500."""
    # A running bus and store: /v1/status then lists processes, and refreshes are sent.
    commit([price_observed(), *(usage_batch(n) for n in range(1, 8))])
    api = start_api()
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json")
    schema.config.base_url = api.url
    operations = [result.ok() for result in schema.exclude(path="/v1/stream").get_all_operations()]
    checked = []
    for operation in operations:
        # Without parameters there is nothing invalid to send.
        modes = MODES if any(operation.iter_parameters()) else MODES[:1]
        for mode in modes:
            _call_examples(operation, mode, api.url)
        checked.append(operation.label)
    expected = {
        "GET /healthz",
        "GET /v1/activity",
        "GET /v1/alerts",
        "GET /v1/limits",
        "GET /v1/machines",
        "GET /v1/status",
        "GET /v1/usage/{kind}",
        "POST /v1/refresh",
    }
    assert expected == set(checked)


def _call_examples(operation: schemathesis.APIOperation, mode: Any, url: str) -> None:
    """Call ``operation`` with ``EXAMPLES`` generated cases of ``mode``, validating each."""

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def call(case: Case) -> None:
        case.call_and_validate(base_url=url, checks=CHECKS)

    call()
