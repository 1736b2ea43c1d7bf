"""When to try again: exponential backoff with jitter, and a token bucket per destination.

Both are pure (time and randomness are passed in), so the dispatcher's behaviour can be tested in
real time with small numbers and reasoned about without a clock.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff after a transient failure: ``base × factor^(attempt-1)`` capped at ``cap``, jittered.

    ``jitter`` is the fraction of each delay that is random ("equal jitter"), so destinations that
    failed together do not all come back in the same second. ``poll_interval`` bounds how long an idle
    worker goes without looking at the outbox (rows reopened by ``newsmon alerts retry`` from another
    process are found this way).
    """

    base: float = 2.0
    factor: float = 2.0
    cap: float = 600.0
    jitter: float = 0.5
    poll_interval: float = 5.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); ``rand`` is in [0, 1)."""
        exponent = min(max(attempt - 1, 0), 64)  # 2^64 × base overflows no float and exceeds any cap
        ceiling = min(self.cap, self.base * self.factor**exponent)
        return ceiling * (1 - self.jitter) + ceiling * self.jitter * rand


class TokenBucket:
    """``rate`` requests per second on average, up to ``burst`` back to back.

    :meth:`reserve` hands out a slot and says how long to wait for it; reservations queue up, so
    callers that wait as told never exceed the rate, however many there are.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def reserve(self, now: float) -> float:
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = max(self._at, now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate
