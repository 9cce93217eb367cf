"""Schemathesis over every operation of the live OpenAPI document, as an all-scopes key of
one ISP, against `kiunga serve`: no server error and no status code the document does not
list. Examples are few per operation and derandomized, so the run is bounded and repeatable;
tests/bench/test_openapi_fuzz_full.py is the full-strength run."""

from __future__ import annotations

import pytest
from schemathesis import GenerationMode

from fixtures.fuzz import fuzz_operations

EXAMPLES_PER_OPERATION = 8


@pytest.mark.parametrize(
    ("mode", "examples"),
    [(GenerationMode.POSITIVE, EXAMPLES_PER_OPERATION), (GenerationMode.NEGATIVE, 3)],
    ids=["valid-requests", "schema-invalid-requests"],
)
def test_no_operation_answers_a_server_error_or_an_undocumented_status(
    served_app, keyed_tenant, mint_key, mode, examples
):
    found = fuzz_operations(served_app, keyed_tenant.host, mint_key, examples, mode=mode)
    assert not found, "\n\n".join(map(str, found))
