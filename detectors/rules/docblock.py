"""Generated blocks in the docs: a page keeps hand-written prose around a block that code
rewrites, so tables that list the pack cannot drift from it (a test compares them)."""

from __future__ import annotations

from pathlib import Path


def rewrite_block(page: Path, begin: str, end: str, block: str) -> bool:
    """Replace the text from ``begin`` to ``end`` (markers included in ``block``); True when
    the page changed. A page without both markers is a ValueError naming them."""
    text = page.read_text(encoding="utf-8")
    head, found, rest = text.partition(begin)
    _, ended, tail = rest.partition(end)
    if not found or not ended:
        raise ValueError(f"{page} has no generated block ({begin} ... {end})")
    new = head + block + tail
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def shown_block(page: Path, begin: str, end: str) -> str:
    """The generated block as the page shows it, markers included."""
    text = page.read_text(encoding="utf-8")
    return text[text.index(begin) : text.index(end) + len(end)]
