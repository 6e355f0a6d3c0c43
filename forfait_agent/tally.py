"""What a practitioner's metrics are computed from: event counts and consultation links.

Kept apart from scoring so that the store can build it without importing pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# How far apart (days) a consultation and a DMP document or MSS message may be and still link.
# The store keeps links within it only; rules refuse a wider `link_days`.
LINK_HORIZON_DAYS = 31

CountKey = tuple[str, str, int]  # (kind, detail, flag)
Counts = Mapping[CountKey, int]
LinkKey = tuple[str, int]  # (linked metric, link_days)


@dataclass(frozen=True)
class Link:
    """For one linked metric and window: consultations linked, numerator events left unlinked."""

    linked: int = 0
    unlinked: int = 0

    def __add__(self, other: Link) -> Link:
        return Link(self.linked + other.linked, self.unlinked + other.unlinked)


@dataclass(frozen=True)
class Tally:
    """Counts by (kind, detail, flag) and, per linked metric and window, the links found."""

    counts: Counts = field(default_factory=dict)
    links: Mapping[LinkKey, Link] = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        counts = dict(self.counts)
        for key, n in other.counts.items():
            counts[key] = counts.get(key, 0) + n
        links = dict(self.links)
        for key, link in other.links.items():
            links[key] = links.get(key, Link()) + link
        return Tally(counts, links)
