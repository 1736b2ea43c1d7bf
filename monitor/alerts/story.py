"""Story grouping: near-duplicate articles (syndicated copies, corrections, re-sends with a new byline)
form one story, so that realert can be counted per story instead of per file.

MinHash over word shingles estimates Jaccard similarity; locality-sensitive hashing over bands of the
signature finds candidate stories in the store by exact key lookups, so grouping costs the same whether
the store holds ten stories or a million.
"""

import hashlib
import re
from collections.abc import Sequence

import numpy as np

SHINGLE_WORDS = 4
NUM_HASHES = 64
BAND_ROWS = 4  # 16 bands of 4 rows: pairs at Jaccard 0.7 share a band with probability ~0.99
NEAR_DUPLICATE = 0.7  # estimated Jaccard at or above which two articles are one story

_WORD = re.compile(r"\w+")
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20140117)  # fixed: signatures must be stable across runs and versions
_A = _rng.integers(1, (1 << 61) - 1, size=NUM_HASHES, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, size=NUM_HASHES, dtype=np.uint64)


def shingles(text: str) -> set[int]:
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        words = words + [""] * (SHINGLE_WORDS - len(words))
    return {
        int.from_bytes(
            hashlib.blake2b(" ".join(words[i : i + SHINGLE_WORDS]).encode(), digest_size=7).digest(), "big"
        )
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def signature(text: str) -> bytes:
    """The MinHash signature of ``text`` as bytes (stored in SQLite as a BLOB)."""
    values = np.fromiter(shingles(text), dtype=np.uint64)
    # (a*x + b) mod p with 61-bit values overflows uint64; fold x to 32 bits first to keep it exact.
    folded = (values ^ (values >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    hashed = (_A[:, None] * folded[None, :] + _B[:, None]) % _MERSENNE
    minima: np.ndarray = hashed.min(axis=1)
    return minima.astype("<u8").tobytes()


def bands(sig: bytes) -> list[str]:
    """LSH band keys: two signatures that share any key are candidates for one story."""
    step = BAND_ROWS * 8
    return [
        f"{i}:{hashlib.blake2b(sig[i * step : (i + 1) * step], digest_size=8).hexdigest()}"
        for i in range(NUM_HASHES // BAND_ROWS)
    ]


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return float(np.mean(np.frombuffer(a, dtype="<u8") == np.frombuffer(b, dtype="<u8")))


def best_story(sig: bytes, candidates: Sequence[tuple[str, bytes]]) -> str | None:
    """The candidate story most similar to ``sig``, if any is a near duplicate."""
    scored = [(similarity(sig, other), story_id) for story_id, other in candidates]
    best = max(scored, default=None)
    return best[1] if best is not None and best[0] >= NEAR_DUPLICATE else None
