"""Alert levels shared by rules, alerts and destination routing.

Kept apart from both so that neither the rule schema nor the alert schema has to import the other.
"""

from enum import StrEnum


class Level(StrEnum):
    """Sigma's levels; ordered so that destinations can ask for ``min_level``."""

    informational = "informational"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: "Level") -> bool:
        return self.rank >= other.rank


_ORDER = list(Level)
