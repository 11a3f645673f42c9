"""Chinese keyword search with character bigrams: a word of two characters or more occurs in a text only if
every bigram of the word is a bigram of the text, so an index on (term) finds candidates on any backend and a
substring match confirms them."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return text.lower()


def bigrams(text: str) -> set[str]:
    out: set[str] = set()
    for part in _SPACE.split(normalise(text)):
        out.update(part[i : i + 2] for i in range(len(part) - 1))
    return out


def words(q: str) -> list[str]:
    return [w for w in _SPACE.split(normalise(q).strip()) if w]
