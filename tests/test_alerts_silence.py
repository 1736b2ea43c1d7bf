"""Silences: matcher parsing and matching (pure), the store on a real SQLite file, `newsmon silence`."""

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from monitor.alerts.build import build_alert, new_story
from monitor.alerts.cli import silence
from monitor.alerts.model import Alert, AlertArticle, AlertRule, AlertStory, TopicScore
from monitor.alerts.silence import FIELDS, Matcher, MatcherError, Silence, parse_matcher, silencing
from monitor.analyse import Match
from monitor.ingest.reader import read_article
from monitor.rules.model import Rule
from monitor.severity import Level
from monitor.store import articles as store
from monitor.store import silences
from monitor.store.articles import FileStat, StoryUpdate
from monitor.store.db import DB_NAME, connect, transaction
from tests.daemon_harness import SEEDS

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALL_FIELDS = "rule, tag, topic, level, source, story"
HOW = f"write FIELD=VALUE with FIELD one of {ALL_FIELDS}"
LEVELS = "use one of informational, low, medium, high, critical"


def make_alert(
    *,
    rule_id: str = "ceasefire",
    tags: tuple[str, ...] = ("conflict", "ceasefire"),
    rule_topic: str | None = "ceasefire",
    level: Level = Level.high,
    topics: dict[str, bool] | None = None,
    source: str | None = "Reuters",
    story_id: str = "2688c1504e29e7ce",
) -> Alert:
    matched = {"ceasefire": True, "prisoner_exchange": False, "cross_border_shelling": True}
    return Alert(
        id="a" * 32,
        created_at=NOW,
        rule=AlertRule(id=rule_id, title="t", level=level, tags=tags, topic=rule_topic),
        topics={
            name: TopicScore(score=0.9 if hit else 0.1, match=hit)
            for name, hit in (matched if topics is None else topics).items()
        },
        article=AlertArticle(id="f" * 64, path="inbox/a.txt", source=source, received_at=NOW),
        story=AlertStory(id=story_id, article_count=1, first_seen=NOW),
    )


def make_silence(
    *matchers: str,
    sid: str = "0" * 32,
    starts: timedelta = timedelta(hours=-1),
    ends: timedelta = timedelta(hours=1),
    created: timedelta = timedelta(hours=-1),
) -> Silence:
    return Silence(
        id=sid,
        matchers=tuple(parse_matcher(m) for m in matchers or ("rule=ceasefire",)),
        starts_at=NOW + starts,
        ends_at=NOW + ends,
        created_by="alice",
        comment="known story",
        created_at=NOW + created,
    )


# ---- matchers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("rule=ceasefire", "rule", "ceasefire"),
        (" Tag = Conflict ", "tag", "Conflict"),
        ("level=HIGH", "level", "HIGH"),
        ("source=The Moscow Times", "source", "The Moscow Times"),
        ("story=2688", "story", "2688"),
        ("topic=cease*", "topic", "cease*"),
        ("rule=a=b", "rule", "a=b"),
    ],
)
def test_parse_matcher_reads_field_and_value(text: str, field: str, value: str) -> None:
    assert parse_matcher(text) == Matcher(field=field, value=value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ceasefire", f"'ceasefire' is not a matcher: {HOW}"),
        ("rules=x", f"'rules=x': unknown field 'rules' (did you mean 'rule'?): {HOW}"),
        ("colour=red", f"'colour=red': unknown field 'colour': {HOW}"),
        ("rule=", f"'rule=': no value: {HOW}"),
        ("source=   ", f"'source=   ': no value: {HOW}"),
        ("=x", f"'=x': unknown field '': {HOW}"),
        ("level=urgent", f"'level=urgent': 'urgent' is not a level: {LEVELS}"),
        ("level=hi*", f"'level=hi*': 'hi*' is not a level: {LEVELS}"),
    ],
)
def test_parse_matcher_errors_say_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert str(caught.value) == message


def test_fields_are_the_documented_ones() -> None:
    assert ", ".join(FIELDS) == ALL_FIELDS


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ("rule=ceasefire", True),
        ("rule=CEASE*", True),
        ("rule=cease", False),  # only story takes a bare prefix
        ("rule=prisoner_exchange", False),
        ("tag=conflict", True),
        ("tag=CEASEFIRE", True),
        ("tag=diplo*", False),
        ("topic=ceasefire", True),
        ("topic=cross*", True),  # another topic that passed its threshold
        ("topic=prisoner_exchange", False),  # scored, but below its threshold
        ("level=high", True),
        ("level=High", True),
        ("level=medium", False),
        ("source=reuters", True),
        ("source=Reut*", True),
        ("source=Reu?ers", True),
        ("source=AP", False),
        ("story=2688c1504e29e7ce", True),
        ("story=2688C150", True),
        ("story=2688*e7ce", True),
        ("story=c150", False),
    ],
)
def test_each_field_matches_case_insensitively_with_globs(matcher: str, expected: bool) -> None:
    assert parse_matcher(matcher).matches(make_alert()) is expected


def test_topic_counts_the_rules_own_topic_even_below_its_threshold() -> None:
    alert = make_alert(rule_topic="prisoner_exchange", topics={"prisoner_exchange": False})
    assert parse_matcher("topic=prisoner_exchange").matches(alert)
    assert not parse_matcher("topic=prisoner_exchange").matches(make_alert(rule_topic=None))


def test_fields_an_alert_lacks_match_nothing_not_even_a_star() -> None:
    bare = make_alert(source=None, tags=(), rule_topic=None, topics={})
    for field in ("source", "tag", "topic"):
        assert not parse_matcher(f"{field}=*").matches(bare)
    assert parse_matcher("rule=*").matches(bare)


def test_every_matcher_must_match() -> None:
    alert = make_alert()
    assert make_silence("rule=ceasefire", "source=reuters", "level=high").matches(alert)
    assert not make_silence("rule=ceasefire", "source=ap").matches(alert)
    assert not make_silence("source=ap", "rule=ceasefire").matches(alert)


def test_active_window_includes_its_start_and_excludes_its_end() -> None:
    window = make_silence(starts=timedelta(0), ends=timedelta(hours=1))
    assert window.state(NOW - timedelta(microseconds=1)) == "pending"
    assert window.state(NOW) == "active"
    assert window.state(NOW + timedelta(hours=1) - timedelta(microseconds=1)) == "active"
    assert window.state(NOW + timedelta(hours=1)) == "expired"
    alert = make_alert()
    assert silencing([window], alert, NOW) == window
    assert silencing([window], alert, NOW + timedelta(hours=1)) is None
    assert silencing([window], alert, NOW - timedelta(seconds=1)) is None


def test_silencing_takes_the_first_active_silence_that_matches() -> None:
    other_rule = make_silence("rule=prisoner_exchange", sid="1" * 32)
    pending = make_silence(sid="2" * 32, starts=timedelta(hours=1), ends=timedelta(hours=2))
    first = make_silence("tag=conflict", sid="3" * 32)
    second = make_silence("level=high", sid="4" * 32)
    found = silencing([other_rule, pending, first, second], make_alert(), NOW)
    assert found is not None and found.id == first.id
    assert silencing([other_rule, pending], make_alert(), NOW) is None
    assert silencing([], make_alert(), NOW) is None


def test_a_silence_needs_a_matcher_an_aware_window_and_no_negative_length() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        Silence(**{**make_silence().model_dump(), "matchers": ()})
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        make_silence(starts=timedelta(hours=1), ends=timedelta(0))
    with pytest.raises(ValidationError, match="timezone"):
        Silence(**{**make_silence().model_dump(), "starts_at": datetime(2024, 5, 1, 11)})
    ended_before_it_began = make_silence(starts=timedelta(0), ends=timedelta(0))
    assert ended_before_it_began.state(NOW) == "expired"


# ---- the store -------------------------------------------------------------------------------------


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(tmp_path / "state")
    yield connection
    connection.close()


def ts(delta: timedelta = timedelta(0)) -> float:
    return (NOW + delta).timestamp()


def test_store_round_trip_keeps_every_field(conn: sqlite3.Connection) -> None:
    original = make_silence("rule=ceasefire", "source=The Moscow*", "level=High")
    silences.add(conn, original)
    assert silences.get(conn, original.id) == original
    assert silences.get(conn, "f" * 32) is None
    stored = conn.execute("SELECT matchers FROM silences").fetchone()[0]
    assert json.loads(stored) == [
        {"field": "rule", "value": "ceasefire"},
        {"field": "source", "value": "The Moscow*"},
        {"field": "level", "value": "High"},
    ]


def test_lists_active_and_pending_newest_first_and_all_on_request(conn: sqlite3.Connection) -> None:
    old = make_silence(
        sid="a" * 32, starts=timedelta(days=-2), ends=timedelta(days=-1), created=timedelta(days=-2)
    )
    active = make_silence(sid="b" * 32, created=timedelta(hours=-2))
    pending = make_silence(
        sid="c" * 32, starts=timedelta(hours=2), ends=timedelta(hours=3), created=timedelta(0)
    )
    for entry in (old, active, pending):
        silences.add(conn, entry)
    assert [s.id for s in silences.entries(conn, ts())] == [pending.id, active.id]
    assert [s.id for s in silences.entries(conn, ts(), include_expired=True)] == [
        pending.id,
        active.id,
        old.id,
    ]
    assert [s.id for s in silences.active(conn, ts())] == [active.id]
    assert silences.count_active(conn, ts()) == 1
    assert silences.count_active(conn, ts(timedelta(hours=2))) == 1  # active ended, pending began
    assert silences.count_active(conn, ts(timedelta(hours=3))) == 0


def test_active_silences_come_oldest_first(conn: sqlite3.Connection) -> None:
    newer = make_silence(sid="a" * 32, created=timedelta(minutes=-1))
    older = make_silence(sid="b" * 32, created=timedelta(hours=-3))
    silences.add(conn, newer)
    silences.add(conn, older)
    assert [s.id for s in silences.active(conn, ts())] == [older.id, newer.id]


def test_ids_by_unique_or_ambiguous_prefix(conn: sqlite3.Connection) -> None:
    for sid in ("abc1" + "0" * 28, "abc2" + "0" * 28, "def0" + "0" * 28):
        silences.add(conn, make_silence(sid=sid))
    assert silences.ids_with_prefix(conn, "abc1") == ["abc1" + "0" * 28]
    assert len(silences.ids_with_prefix(conn, "abc")) == 2
    assert silences.ids_with_prefix(conn, "") == ["abc1" + "0" * 28, "abc2" + "0" * 28]  # limit 2
    assert silences.ids_with_prefix(conn, "9") == []
    assert silences.ids_with_prefix(conn, "ab_") == []  # '_' is not a wildcard
    assert silences.ids_with_prefix(conn, "%") == []


def test_expire_ends_a_silence_once(conn: sqlite3.Connection) -> None:
    active = make_silence(sid="a" * 32)
    pending = make_silence(sid="b" * 32, starts=timedelta(hours=1), ends=timedelta(hours=2))
    silences.add(conn, active)
    silences.add(conn, pending)
    assert silences.expire(conn, active.id, ts())
    assert not silences.expire(conn, active.id, ts(timedelta(seconds=1)))
    ended = silences.get(conn, active.id)
    assert ended is not None and ended.ends_at == NOW and ended.starts_at == active.starts_at
    assert ended.state(NOW) == "expired"

    assert silences.expire(conn, pending.id, ts())
    never = silences.get(conn, pending.id)
    assert never is not None and never.starts_at == never.ends_at == NOW  # never was in force
    assert silences.active(conn, ts()) == []
    assert not silences.expire(conn, "f" * 32, ts())


def test_suppressions_are_counted_inside_the_callers_transaction(conn: sqlite3.Connection) -> None:
    first, second = make_silence(sid="a" * 32), make_silence(sid="b" * 32)
    silences.add(conn, first)
    silences.add(conn, second)
    with transaction(conn):
        silences.count_suppressed(conn, [first.id, first.id, second.id])
    assert [s.suppressed for s in silences.entries(conn, ts())] == [2, 1]


def test_a_suppression_counts_once_the_article_is_stored_and_not_if_storing_fails(
    conn: sqlite3.Connection,
) -> None:
    """The count shares the article's transaction: a crash before the commit cannot count it twice."""
    muted = make_silence(sid="a" * 32)
    silences.add(conn, muted)
    path = SEEDS / "002_da3e7f07827a03a9.txt"
    article = read_article(path)
    update = StoryUpdate(new_story(article, NOW), True, b"\0" * 8, ["0:x"], ts())
    store.record_article(
        conn, article=article, stat=FileStat.of(path), story=update, alerts=[], silenced=[muted.id], now=ts()
    )
    with pytest.raises(sqlite3.IntegrityError):  # the same article again: its INSERT fails, all rolls back
        store.record_article(
            conn, article=article, stat=None, story=update, alerts=[], silenced=[muted.id], now=ts()
        )
    found = silences.get(conn, muted.id)
    assert found is not None and found.suppressed == 1


def test_prune_deletes_silences_ended_over_a_week_ago(conn: sqlite3.Connection) -> None:
    stale = make_silence(sid="a" * 32, starts=timedelta(days=-9), ends=timedelta(days=-8))
    recent = make_silence(sid="b" * 32, starts=timedelta(days=-7), ends=timedelta(days=-6))
    active = make_silence(sid="c" * 32)
    for entry in (stale, recent, active):
        silences.add(conn, entry)
    assert silences.prune(conn, ts()) == 1
    assert {s.id for s in silences.entries(conn, ts(), include_expired=True)} == {recent.id, active.id}


def test_count_active_in_a_database_from_before_silences(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "old.sqlite3") as old:
        old.execute("CREATE TABLE alerts (id TEXT)")
        assert silences.count_active(old, ts()) == 0


# ---- newsmon silence -------------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSMON_CONFIG", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "alice")
    return tmp_path / "state"


def invoke(state: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(silence, [*args, "--state", str(state)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def listed(state: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = invoke(state, "list", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_add_list_expire_list_all(state: Path) -> None:
    code, out, err = invoke(
        state, "add", "rule=ceasefire", "source=Reut*", "--for", "4h", "--comment", "Gaza: known"
    )
    assert code == 0, err
    new_id, summary = out.splitlines()
    assert re.fullmatch(r"[0-9a-f]{32}", new_id)
    until = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.fullmatch(
        rf"silenced rule=ceasefire AND source=Reut\* from now until {until} \(4h\), by alice", summary
    )
    assert (state / DB_NAME).exists(), "add creates the state database before the daemon's first run"

    code, out, _ = invoke(state, "list")
    header, row = out.splitlines()
    assert header.split() == ["ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "SUPPRESSED", "COMMENT"]
    assert re.fullmatch(
        rf"{new_id[:8]}  active  rule=ceasefire AND source=Reut\*  [01]s ago +in 3h +alice +0 +Gaza: known",
        row,
    ), row
    [shown] = listed(state)
    assert shown["id"] == new_id and shown["state"] == "active" and shown["suppressed"] == 0
    assert shown["matchers"] == [
        {"field": "rule", "value": "ceasefire"},
        {"field": "source", "value": "Reut*"},
    ]
    starts = datetime.fromisoformat(str(shown["starts_at"]))
    assert datetime.fromisoformat(str(shown["ends_at"])) - starts == timedelta(hours=4)

    code, out, err = invoke(state, "expire", new_id[:6])
    assert code == 0, err
    assert out.strip() == f"expired {new_id[:8]}: rule=ceasefire AND source=Reut* (it stopped 0 alerts)"
    code, out, _ = invoke(state, "list")
    assert out.strip() == "no active or pending silences"
    [gone] = listed(state, "--all")
    assert gone["id"] == new_id and gone["state"] == "expired"
    code, out, _ = invoke(state, "list", "--all")
    assert out.splitlines()[1].split()[:2] == [new_id[:8], "expired"]

    code, _, err = invoke(state, "expire", new_id)
    assert code == 1 and re.search(f"silence {new_id[:8]} already expired [01]s ago", err), err


def test_add_until_with_a_later_start_is_pending(state: Path) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    until = start + timedelta(hours=1)
    code, out, err = invoke(
        state, "add", "level=high", "--start", start.astimezone(timezone(timedelta(hours=2))).isoformat(),
        "--until", until.isoformat().replace("+00:00", "Z"), "--comment", "maintenance", "--author", "bob",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[1].startswith(f"silenced level=high from {start:%Y-%m-%d %H:%M} UTC until ")
    [shown] = listed(state)
    assert shown["state"] == "pending" and shown["created_by"] == "bob"
    assert datetime.fromisoformat(str(shown["starts_at"])) == start
    assert datetime.fromisoformat(str(shown["ends_at"])) == until


def test_author_defaults_to_whoever_ran_sudo(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "carol")
    monkeypatch.setenv("USER", "newsmon")
    code, _, err = invoke(state, "add", "tag=conflict", "--for", "1h", "--comment", "x")
    assert code == 0, err
    assert [s["created_by"] for s in listed(state)] == ["carol"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "1h"], f"give at least one MATCHER: {HOW}"),
        (["rule=x"], "give either --for or --until"),
        (["rule=x", "--for", "1h", "--until", "2999-01-01T00:00Z"], "give either --for or --until"),
        (["rule=x", "--until", "2020-01-01T00:00Z"], "would end at 2020-01-01 00:00 UTC, which has passed"),
        (["rule=x", "--until", "2999-01-01T00:00"], "'2999-01-01T00:00' has no timezone"),
        (["rule=x", "--for", "1h", "--start", "2999-01-01 08:00"], "'2999-01-01 08:00' has no timezone"),
        (["rule=x", "--until", "tomorrow"], "'tomorrow' is not an ISO-8601 time"),
        (["rule=x", "--until", "2999-01-01T00Z", "--start", "2999-01-02T00Z"], "must be after --start"),
        (["rule=x", "--for", "0m"], "'0m' is not a duration longer than zero"),
        (["rule=x", "--for", "4 hours"], "'4 hours' is not a duration"),
        (["colour=red", "--for", "1h"], "unknown field 'colour'"),
        (["level=urgent", "--for", "1h"], "'urgent' is not a level"),
        (["rule=x", "--for", "1h", "--comment", " "], "--comment must say why"),
    ],
)  # fmt: skip
def test_add_refuses_what_it_cannot_honour(state: Path, args: list[str], message: str) -> None:
    if "--comment" not in args:
        args = [*args, "--comment", "why"]
    code, _, err = invoke(state, "add", *args)
    assert code == 2
    assert message in " ".join(err.split())
    assert not state.exists(), "nothing is written when the command is refused"


def test_list_and_expire_need_a_state_database(state: Path) -> None:
    for args in (["list"], ["expire", "abc"]):
        code, _, err = invoke(state, *args)
        assert code == 1 and "no state database in" in err
    assert not state.exists()


def test_expire_reports_unknown_and_ambiguous_ids_and_expires_the_rest(state: Path) -> None:
    conn = connect(state)
    try:
        for sid in ("abc1" + "0" * 28, "abc2" + "0" * 28):
            silences.add(conn, make_silence(sid=sid, starts=timedelta(0), ends=timedelta(days=3650)))
    finally:
        conn.close()
    code, out, err = invoke(state, "expire", "abc", "zzz", "ABC2")
    assert code == 1
    assert "Error: silence id 'abc' is ambiguous: give more characters" in err
    assert "Error: no silence with id 'zzz'" in err
    assert out.strip() == "expired abc20000: rule=ceasefire (it stopped 0 alerts)"
    assert [s["id"][:4] for s in listed(state)] == ["abc1"]  # type: ignore[index]


def test_a_silence_from_the_cli_stops_the_alert_the_pipeline_would_build(state: Path) -> None:
    """The CLI's silence, read back by the store, matches the alert built from a real sample."""
    code, _, err = invoke(
        state, "add", "rule=ceasefire", "source=associated*", "--for", "1h", "--comment", "x"
    )
    assert code == 0, err
    article = read_article(SEEDS / "000_805448790873fa1e.txt")
    now = datetime.now(UTC)
    rule = Rule(id="ceasefire", title="Ceasefire", level=Level.high, query="ceasefire")
    alert = build_alert(
        match=Match(rule=rule, evidence=()), article=article, topics={}, story=new_story(article, now),
        revision=1, created_at=now,
    )  # fmt: skip
    conn = connect(state)
    try:
        active = silences.active(conn, now.timestamp())
    finally:
        conn.close()
    assert silencing(active, alert, now) == active[0]
    other = alert.model_copy(update={"rule": alert.rule.model_copy(update={"id": "prisoner_exchange"})})
    assert silencing(active, other, now) is None
