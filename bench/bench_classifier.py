"""Classifier throughput on a realistic news mix of ~3 KB articles, with and without the cue pre-filter.

    .venv/bin/python bench/bench_classifier.py [--articles 150] [--on-topic 0.15] [--threads 2]

The off-topic articles are real news as it comes: the Lee corpus articles of tests/data (ABC News,
December 2001: bushfires, cricket, the Afghan war, Middle East violence, industrial disputes, courts)
that carry no topic, joined up to ~3 KB. An on-topic article is one labelled on-topic item (or seed)
placed among them, so the on-topic share is the given fraction. Each mode runs in its own process so peak
RSS is that mode's alone, and both run side by side on the same machine and load, so their ratio is
meaningful even when absolute numbers are not.

The recall the pre-filter keeps is measured on all labelled articles: a unit that no cue gates in is never
scored, so recall can only drop; the report gives recall per topic with the pre-filter and without it
(every unit scored), at the same thresholds.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = [ROOT / "tests" / "data" / "topics-dev.jsonl", ROOT / "tests" / "data" / "topics-heldout.jsonl"]
SEEDS = ROOT / "seeds"
ARTICLE_BYTES = 3000


def _items() -> list[dict[str, object]]:
    return [json.loads(line) for path in DATA for line in path.read_text(encoding="utf-8").splitlines()]


def build_mix(count: int, on_topic: float, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    items = _items()
    off = [str(i["text"]) for i in items if not i["labels"] and str(i["id"]).startswith("lee-")]
    on = [str(i["text"]) for i in items if i["labels"]]
    on += [p.read_text(encoding="utf-8")[:ARTICLE_BYTES] for p in sorted(SEEDS.glob("*.txt"))]
    articles = []
    for n in range(count):
        parts = [rng.choice(on)] if n < round(count * on_topic) else []
        # Lee articles average 1.2 KB: stopping short of 3 KB by half of one keeps the mean near 3 KB.
        while sum(len(p) for p in parts) < ARTICLE_BYTES - 600:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(off))
        articles.append("\n\n".join(parts))
    rng.shuffle(articles)
    return articles


def run_mode(prefilter: bool, count: int, on_topic: float, threads: int) -> dict[str, object]:
    """Runs in a child process: load, classify the mix, measure; prints one JSON line."""
    sys.path.insert(0, str(ROOT))
    from monitor.classify import Classifier
    from monitor.classify.embedder import Embedder
    from monitor.classify.evaluation import LabelledItem
    from monitor.classify.topics import TOPICS_FILE, TopicSet, load_topics

    rules = ROOT / "rules"
    topics = load_topics(rules / TOPICS_FILE)
    if not prefilter:
        topics = TopicSet(topics=tuple(t.model_copy(update={"cues": ()}) for t in topics.topics))
    started = time.perf_counter()
    # Prototype scoring in both modes: a head does not apply once the cues change (its fingerprint), and
    # scoring costs the same either way (the head is one dot product per unit); the model is the cost.
    classifier = Classifier(topics, Embedder(threads=threads))
    load_seconds = time.perf_counter() - started
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    articles = build_mix(count, on_topic)
    started = time.perf_counter()
    for text in articles:
        classifier.classify(text)
    elapsed = time.perf_counter() - started
    sample = articles[:30]
    embedded = sum(int(classifier.analyse(text).vectors.any(axis=1).sum()) for text in sample)
    items = [LabelledItem.model_validate(i) for i in _items()]
    found: dict[str, list[int]] = {name: [0, 0] for name in sorted(topics.names)}
    for item in items:
        results = classifier.classify(item.text)
        for name in item.labels:
            found[name][0] += results[name].match
            found[name][1] += 1
    return {
        "prefilter": prefilter,
        "articles": len(articles),
        "mean_bytes": round(sum(len(a.encode()) for a in articles) / len(articles)),
        "articles_per_second": round(len(articles) / elapsed, 1),
        "units_embedded_per_article": round(embedded / len(sample), 1),
        "load_seconds": round(load_seconds, 2),
        "rss_loaded_mb": round(rss_loaded),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "recall": {name: round(hit / total, 3) for name, (hit, total) in found.items()},
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--on-topic", type=float, default=0.15, help="share of on-topic articles")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", choices=["prefilter", "all-units"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode == "prefilter", args.articles, args.on_topic, args.threads)))
        return
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    results = []
    for mode in ("prefilter", "all-units"):
        command = [sys.executable, __file__, "--mode", mode, "--articles", str(args.articles)]
        command += ["--on-topic", str(args.on_topic), "--threads", str(args.threads)]
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for r in results:
        print(json.dumps(r))
    fast, slow = results
    speedup = float(str(fast["articles_per_second"])) / float(str(slow["articles_per_second"]))
    print(f"pre-filter speed-up: {speedup:.2f}x")


if __name__ == "__main__":
    main()
