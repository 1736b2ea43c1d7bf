"""The one message for a name that is not known (a topic, a destination, a term list)."""

import difflib
from collections.abc import Collection


def unknown_name(what: str, value: str, known: Collection[str], where: str) -> str:
    """Name the closest known value, or all of them when none is close: the fix is then one edit away."""
    close = difflib.get_close_matches(value, list(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known)) or 'none'}"
    return f"unknown {what} '{value}' (not in {where}); {hint}"
