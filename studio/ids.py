"""Object ids read from query strings."""

from __future__ import annotations

from typing import Any

MAX_ID = 2**63 - 1  # a BigAutoField's largest value (PostgreSQL and SQLite refuse bigger integers with an error)


def parse_id(value: Any) -> int | None:
    """``value`` as an id to filter on, or None when it isn't an integer. An integer outside the ids' range
    becomes 0, which no object has: the filter matches nothing instead of the database raising an error."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else 0


class IdConverter:
    """The ``<id:name>`` path converter: a positive integer an id can be. Django's ``<int:...>`` takes any
    number of digits, and a number past a bigint reached the database, which refused it with an error
    (a 500); here it doesn't match, so the answer is a 404 like any other unknown id."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 <= number <= MAX_ID:
            raise ValueError(value)  # no match: Django tries the next pattern, then answers 404
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))
