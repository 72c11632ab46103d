"""Optional fields left out of records that were kept: counted by field and reason.

A record whose optional field has a type the normalizer does not expect (``requestParameters``
logged as a string by some exporter, ``resources`` as a list of ARNs) is still an event: the
field is left out of its typed columns (they read null) and its ``raw`` stays as logged. What
was left out is not silent: each batch counts it by field and reason, and every command that
reports rejects reports these beside them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DroppedFields:
    """Records that lost a field, by (field path, reason); immutable, summed with ``+``."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, drops: Iterable[tuple[str, str]]) -> DroppedFields:
        """One count per (field, reason) pair given (one pair per record that lost a field)."""
        return cls(dict(Counter(drops)))

    def __add__(self, other: DroppedFields) -> DroppedFields:
        if not other.counts:
            return self
        if not self.counts:
            return other
        return DroppedFields(dict(Counter(self.counts) + Counter(other.counts)))

    def __bool__(self) -> bool:
        return bool(self.counts)

    @property
    def total(self) -> int:
        """How many fields were dropped (a record missing two fields counts twice)."""
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        """One line per (field, reason), most frequent first: for stderr summaries."""
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return [
            f"dropped {name} from {n} record{'s' if n != 1 else ''} ({reason}); kept the rest"
            for (name, reason), n in ordered
        ]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{field: {reason: records}}``: for job-run counts and JSON."""
        out: dict[str, dict[str, int]] = {}
        for (name, reason), n in sorted(self.counts.items()):
            out.setdefault(name, {})[reason] = n
        return out


NO_DROPS = DroppedFields()


def total_of(parts: Iterable[DroppedFields]) -> DroppedFields:
    """The sum of many counts (an empty iterable gives ``NO_DROPS``)."""
    merged: Counter[tuple[str, str]] = Counter()
    for part in parts:
        merged.update(part.counts)
    return DroppedFields(dict(merged)) if merged else NO_DROPS
