"""Schemathesis over every operation of the live OpenAPI document, as an all-scopes key of
one ISP, against `kiunga serve`: no server error and no status code the document does not
list. Examples are few per operation and derandomized, so the run is bounded and repeatable;
tests/bench/test_openapi_fuzz_full.py is the full-strength run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance]
# Schemathesis's codes for a 5xx answer and for a status code the document does not list.
SERVER_ERROR, UNDOCUMENTED_STATUS = "ST101", "ST103"


@dataclass(frozen=True)
class FoundFailure:
    operation: str
    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.code}]: {self.text[:800]}"


def fuzz_operations(
    base_url: str,
    host: str,
    mint_key,
    examples: int,
    checks=CHECKS,
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> list[FoundFailure]:
    """Every operation, `examples` cases each (valid ones, or schema-invalid ones in
    negative mode), each operation with a fresh key (revoking keys is one of them)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/docs/openapi.json", headers={"Host": host})
    found: list[FoundFailure] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the OpenAPI document lost its operations"
    for operation in operations:
        headers = {"Host": host, "Authorization": f"Bearer {mint_key()}"}

        @given(case=operation.as_strategy(headers=headers, generation_mode=mode))
        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case):
            case.call_and_validate(base_url=base_url, timeout=60, checks=checks)

        try:
            probe()
        except Unsatisfiable:
            continue  # no schema-invalid request exists for an operation without inputs
        except BaseExceptionGroup as group:  # schemathesis's FailureGroup: record, go on
            for failure in group.exceptions:
                code = getattr(failure, "code", type(failure).__name__)
                found.append(FoundFailure(operation.label, code, str(failure)))
    return found


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
