"""Matching throughput versus the number of rules, beside a naive regex loop and the tokenising floor.

    .venv/bin/python bench/bench_matching.py [--articles 2000] [--naive-articles 200] [--seed 7]

The corpus is synthetic but article-shaped: ~600 words per text drawn from a Zipf-distributed vocabulary
(a few very common words, a long tail), split into sentences. Rules are random queries in the shapes
analysts write (OR-groups ANDed together, phrases, NEAR, SENTENCE, NOT), over the same vocabulary, so that
rare and common terms both occur. Three measurements, in one process on the same texts, interleaved in
chunks of 50 articles for every rule-set size so that the machine's load weighs on all three alike:

- floor: normalise and tokenise each text (what any matcher must do at least);
- compiled: ``RuleSet.match`` (presearch + candidate evaluation + evidence) at 10 / 100 / 1,000 / 10,000
  rules;
- naive: one compiled ``re`` per rule (the alternation of its terms), run over the lower-cased text: a
  lower bound of a naive matcher's cost, as it does not even evaluate the Boolean structure.

The growth with the number of rules is the ratio of the compiled costs at 10,000 and at 10 rules, each
taken relative to the floor measured beside it.
"""

import argparse
import random
import re
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from monitor.ingest.article import Article
from monitor.rules.model import Rule
from monitor.rules.ruleset import RuleSet
from monitor.text.normalize import tokenize

SIZES = (10, 100, 1_000, 10_000)
CHUNK = 50


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    seen: set[str] = set()
    while len(seen) < size:
        seen.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(seen)


def corpus(rng: random.Random, vocab: list[str], count: int, words: int = 600) -> list[str]:
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    texts = []
    for _ in range(count):
        drawn = rng.choices(vocab, weights=weights, k=words)
        sentences = [" ".join(drawn[i : i + 20]).capitalize() + "." for i in range(0, words, 20)]
        texts.append("Headline " + drawn[0] + "\n\n" + " ".join(sentences))
    return texts


def query(rng: random.Random, vocab: list[str]) -> tuple[str, list[str]]:
    """A random query and its positive terms (for the naive regex)."""

    def word(common: bool = False) -> str:
        """Rules name specific things: mostly mid-frequency and rare words; a common one beside them."""
        return vocab[rng.randint(0, 300) if common else rng.randint(1000, len(vocab) - 1)]

    a, b, d, e = (word() for _ in range(4))
    c = word(common=rng.random() < 0.3)
    shapes = [
        (f"({a} OR {b}) AND {c}", [a, b, c]),
        (f'"{a} {b}" OR {d}', [f"{a} {b}", d]),
        (f"{a} NEAR/5 ({b} OR {c})", [a, b, c]),
        (f"SENTENCE({a} AND {b}) AND NOT {d}", [a, b]),
        (f"({a} OR {b} OR {c}) AND ({d} OR {e})", [a, b, c, d, e]),
        (f"{a[:4]}* AND {b}", [a[:4], b]),
    ]
    return rng.choice(shapes)


def article(text: str) -> Article:
    return Article(id="0" * 64, path=Path("bench.txt"), received_at=datetime.now(UTC), text=text)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--naive-articles", type=int, default=200, help="the naive loop is slow: a subset")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    vocab = vocabulary(rng)
    texts = corpus(rng, vocab, args.articles)
    articles = [article(t) for t in texts]
    print(f"corpus: {len(texts)} texts, {sum(map(len, texts)) / len(texts):.0f} characters each on average")

    queries = [query(rng, vocab) for _ in range(max(SIZES))]
    columns = ("rules", "compiled/s", "floor/s", "hits/art", "naive/s", "x naive", "compiled cost/floor")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (7, 11, 9, 9, 9, 8, 20), strict=True)))
    relative: dict[int, float] = {}
    for size in SIZES:
        ruleset = RuleSet(
            Rule(id=f"r{i}", title="r", level="low", query=q) for i, (q, _) in enumerate(queries[:size])
        )
        patterns = [
            re.compile("|".join(rf"\b{re.escape(t)}" + ("" if t == terms[0][:4] else r"\b") for t in terms))
            for _, terms in queries[:size]
        ]
        floor = compiled = naive = 0.0
        hits = 0
        # Interleaved in chunks, so that a change in the machine's load weighs on all three alike.
        for chunk in range(0, len(texts), CHUNK):
            start = time.perf_counter()
            for text in texts[chunk : chunk + CHUNK]:
                tokenize(text)
            floor += time.perf_counter() - start
            start = time.perf_counter()
            for item in articles[chunk : chunk + CHUNK]:
                hits += len(ruleset.match(item))
            compiled += time.perf_counter() - start
            subset = [t.lower() for t in texts[chunk : min(chunk + CHUNK, args.naive_articles)]]
            start = time.perf_counter()
            for text in subset:
                for pattern in patterns:
                    pattern.search(text)
            naive += time.perf_counter() - start
        relative[size] = compiled / floor
        naive_rate = rate(min(args.naive_articles, len(texts)), naive)
        print(
            f"{size:>7,} {rate(len(texts), compiled):>11,.0f} {rate(len(texts), floor):>9,.0f} "
            f"{hits / len(articles):>9.1f} {naive_rate:>9,.0f} "
            f"{rate(len(texts), compiled) / naive_rate:>7.1f}x {relative[size]:>19.2f}x"
        )
    small, large = min(SIZES), max(SIZES)
    print(
        f"cost at {large:,} rules / cost at {small} rules (each relative to its floor): "
        f"{relative[large] / relative[small]:.2f}x"
    )

    tracemalloc.start()
    ruleset = RuleSet(Rule(id=f"r{i}", title="r", level="low", query=q) for i, (q, _) in enumerate(queries))
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"memory of {len(ruleset):,} compiled rules (Python heap, tracemalloc): {current / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
