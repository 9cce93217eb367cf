"""The console's pages: which rows a page number asks for, how many pages there are, and
links that keep the list's filters."""

from __future__ import annotations

from kiunga.platform.web.pagination import MAX_PAGE, Pages, page_number


def test_page_numbers_as_typed():
    assert [page_number(t) for t in ("3", " 2 ", "", None, "0", "-1", "x", "1e3")] == [
        3, 2, 1, 1, 1, 1, 1, 1,
    ]  # fmt: skip
    assert page_number("999999") == MAX_PAGE and page_number("1" * 5000) == MAX_PAGE
    assert page_number("²") == 1


def test_rows_and_neighbours():
    pages = Pages(3, 50, "/vouchers").counted(120)
    assert (pages.limit, pages.offset, pages.count) == (50, 100, 3)
    assert pages.has_previous and not pages.has_next and not pages.past_the_end
    first = Pages(1, 50, "/vouchers").counted(0)
    assert first.count == 1 and not first.has_previous and not first.has_next
    beyond = Pages(9, 50, "/tickets").counted(120)
    assert beyond.past_the_end and beyond.last().number == 3


def test_links_keep_the_filters():
    pages = Pages(1, 25, "/subscribers", (("status", "active"), ("q", "wanjiru & co")))
    assert pages.link(2) == "/subscribers?status=active&q=wanjiru+%26+co&page=2"
    assert Pages(2, 50, "/tickets").link(1) == "/tickets?page=1"
