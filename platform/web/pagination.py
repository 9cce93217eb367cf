"""Pagination, once: the API's `limit`/`offset` query parameters and the console's numbered
pages with their links.

The API pages by `limit` and `offset` (`Limit`, `Offset` in `inputs`; a list that keeps its
pages shorter takes `ShortLimit` or `limit_up_to(its maximum)`). A console list reads
`?page=` with `requested_page`, asks its query for `pages.limit` rows from `pages.offset`,
gives the total back with `pages.counted(total)` and renders the shared `_pages.html` macro,
whose links keep the list's own filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from litestar import Request
from litestar.params import Parameter

# Far beyond any list a person pages through; keeps a typed page number's offset small.
MAX_PAGE = 100_000
# Lists of heavier rows (bills, tickets, resellers with their counts) keep pages shorter
# than `inputs.MAX_PAGE_SIZE`.
SHORT_PAGE_SIZE = 200


def limit_up_to(maximum: int):
    """The `limit` query parameter of a list whose pages are at most `maximum` rows."""
    return Annotated[int, Parameter(ge=1, le=maximum)]


ShortLimit = limit_up_to(SHORT_PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class Pages:
    """Page `number` (from 1) of a list shown `size` rows at a time, `total` rows in all;
    `path` and `kept` (the list's filters) make the links to other pages."""

    number: int
    size: int
    path: str
    kept: tuple[tuple[str, str], ...] = ()
    total: int = 0

    @property
    def limit(self) -> int:
        return self.size

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def count(self) -> int:
        """How many pages there are (one, even when the list is empty)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number * self.size < self.total

    @property
    def past_the_end(self) -> bool:
        return self.number > self.count

    def counted(self, total: int) -> Pages:
        return replace(self, total=total)

    def last(self) -> Pages:
        return replace(self, number=self.count)

    def link(self, number: int) -> str:
        return f"{self.path}?{urlencode([*self.kept, ('page', number)])}"


def page_number(text: str | None) -> int:
    """A page number as typed in the address (a huge one is the furthest page there can be);
    anything else is the first page."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    return MAX_PAGE if len(text) > len(str(MAX_PAGE)) else min(max(int(text), 1), MAX_PAGE)


def requested_page(
    request: Request, size: int, *, keep: Mapping[str, str] | None = None, path: str = ""
) -> Pages:
    """The page of a console list the request asks for; `keep` are the list's filters (empty
    ones are left out of the links), `path` the list's address (the request's by default)."""
    kept = tuple((key, str(value)) for key, value in (keep or {}).items() if value)
    number = page_number(request.query_params.get("page"))
    return Pages(number, size, path or request.url.path, kept)
