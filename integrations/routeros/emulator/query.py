"""`print`'s query words, evaluated the way RouterOS does: each word pushes a truth value on a
stack, `?#` words combine them, and an item is shown when every value left is true.

    ?name           the item has the property          ?-name       it does not
    ?name=x, ?=name=x   the property equals x          ?<name=x, ?>name=x   less, greater
    ?#ops           ! negate top, & and, | or, . duplicate top, N push a copy of item N
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kiunga.integrations.routeros.emulator.tables import (
    ARGUMENT_VALUE_FAILURE,
    TRUE_WORDS,
    Trap,
)

Item = Mapping[str, str]
Step = Callable[[Item, list[bool]], None]


def _ordered(left: str, right: str) -> tuple[int | str, int | str]:
    try:
        return int(left), int(right)
    except ValueError:
        return left, right


def _push(test: Callable[[Item], bool]) -> Step:
    def step(item: Item, stack: list[bool]) -> None:
        stack.append(test(item))

    return step


def _operations(ops: str) -> Step:
    def step(item: Item, stack: list[bool]) -> None:
        index = 0
        while index < len(ops):
            op = ops[index]
            if op.isdigit():
                end = index
                while end < len(ops) and ops[end].isdigit():
                    end += 1
                position = int(ops[index:end])
                stack.append(stack[position] if position < len(stack) else True)
                index = end
                continue
            if op == "!":
                stack.append(not (stack.pop() if stack else True))
            elif op in "&|":
                right = stack.pop() if stack else True
                left = stack.pop() if stack else True
                stack.append(left and right if op == "&" else left or right)
            elif op == ".":
                stack.append(stack[-1] if stack else True)
            else:
                raise Trap(f"unknown query operation {op!r}", ARGUMENT_VALUE_FAILURE)
            index += 1

    return step


def compile_query(
    words: list[str], booleans: frozenset[str] = frozenset()
) -> Callable[[Item], bool]:
    """A predicate over items from the query words (each starting with "?")."""

    def value_of(name: str, value: str) -> str:
        return TRUE_WORDS.get(value, value) if name in booleans else value

    steps: list[Step] = []
    for word in words:
        body = word[1:]
        if body.startswith("#"):
            steps.append(_operations(body[1:]))
        elif body.startswith("-"):
            name = body[1:]
            steps.append(_push(lambda item, name=name: name not in item))
        elif body[:1] in ("=", "<", ">"):
            op, rest = body[0], body[1:]
            name, _, value = rest.partition("=")
            value = value_of(name, value)
            if op == "=":
                steps.append(_push(lambda item, n=name, v=value: item.get(n, "") == v))
            else:
                sign = 1 if op == ">" else -1

                def compare(item: Item, n: str = name, v: str = value, s: int = sign) -> bool:
                    if n not in item:
                        return False
                    left, right = _ordered(item[n], v)
                    if type(left) is not type(right):
                        left, right = str(left), str(right)
                    return (left > right) if s > 0 else (left < right)  # type: ignore[operator]

                steps.append(_push(compare))
        elif "=" in body:
            name, _, value = body.partition("=")
            value = value_of(name, value)
            steps.append(_push(lambda item, n=name, v=value: item.get(n, "") == v))
        else:
            steps.append(_push(lambda item, n=body: n in item))

    def matches(item: Item) -> bool:
        stack: list[bool] = []
        for step in steps:
            step(item, stack)
        return all(stack)

    return matches


def project(item: Item, proplist: list[str] | None) -> dict[str, str]:
    """The properties `.proplist` asked for, in its order; all of them when it is absent."""
    if proplist is None:
        return dict(item)
    return {name: item[name] for name in proplist if name in item}
