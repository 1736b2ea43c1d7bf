"""Which destinations an alert goes to: the rule's ``notify`` list, else the admin config's route."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from monitor.severity import Level

if TYPE_CHECKING:  # monitor.config imports this package for the Destination model
    from monitor.config import AdminConfig

log = structlog.get_logger(__name__)


def destinations_for(notify: Sequence[str], level: Level, config: "AdminConfig") -> list[str]:
    """Destination names for an alert of ``level``, in order, without duplicates.

    Each destination's ``min_level`` filters what reaches it. Rule files are checked against the admin
    config when they load (unknown names are load errors); a name that is missing here anyway (the
    config changed under a running rule set) is logged, not raised, so the other destinations still
    get the alert.
    """
    names = list(dict.fromkeys(notify or config.routes.for_level(level)))
    chosen = []
    for name in names:
        destination = config.destinations.get(name)
        if destination is None:
            log.error("unknown_destination", destination=name)
        elif level.at_least(destination.min_level):
            chosen.append(name)
    return chosen
