"""The bounded input types every route and request body uses: ids, counts, money amounts,
text, pagination.

Each carries its bounds twice, once for msgspec (request bodies) and once for Litestar
(path and query parameters), so that one name validates and documents a value wherever it
arrives. A value outside them is refused with 400 naming the field, before it can reach
PostgreSQL (where an id beyond bigint or a NUL byte in text would fail as a server error).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.params import Parameter

# The largest integer every JSON client reads exactly (JavaScript's Number.MAX_SAFE_INTEGER);
# far below bigint's limit, so no id or count that passes can overflow a column.
MAX_ID = 2**53 - 1
# Money in minor units: a hundred billion shillings is more than any one entry of a small
# ISP; sums of many such amounts still fit in bigint.
MAX_AMOUNT = 10**13
MAX_COUNT = 1_000_000
MAX_PAGE_SIZE = 500
MAX_OFFSET = 10_000_000
# PostgreSQL text cannot hold NUL. Written as an escape so that it reads the same in
# Python's and in the OpenAPI document's (ECMA-262) regular expressions.
NO_NUL = "^[^\\x00]*$"


def _bounded_int(low: int, high: int):
    return (msgspec.Meta(ge=low, le=high), Parameter(ge=low, le=high))


Id = Annotated[int, *_bounded_int(1, MAX_ID)]
OptionalId = Annotated[int | None, Parameter(ge=1, le=MAX_ID)]
Count = Annotated[int, *_bounded_int(0, MAX_COUNT)]
# A TCP or UDP port.
Port = Annotated[int, *_bounded_int(1, 65535)]
Amount = Annotated[int, *_bounded_int(-MAX_AMOUNT, MAX_AMOUNT)]
PositiveAmount = Annotated[int, *_bounded_int(1, MAX_AMOUNT)]
NonNegativeAmount = Annotated[int, *_bounded_int(0, MAX_AMOUNT)]
Text = Annotated[str, msgspec.Meta(pattern=NO_NUL), Parameter(pattern=NO_NUL)]
OptionalText = Annotated[str | None, Parameter(pattern=NO_NUL)]
Limit = Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
# A page number (or a page size a list clamps to its own maximum).
PageNumber = Annotated[int, Parameter(ge=1, le=MAX_OFFSET)]
