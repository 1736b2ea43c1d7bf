"""Read every rule file, report every problem at its file:line:column, and compile only a fully valid set.

All or nothing: one bad file fails the whole load, so the daemon keeps its last good set (an edit that
half-saves a file never leaves some rules silently missing).
"""

import difflib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from monitor.rules.model import Rule
from monitor.rules.query import LIST_NAME, Node, Or, QueryError, Term, UnknownListError, parse
from monitor.rules.ruleset import RuleSet
from monitor.rules.suggest import unknown_name

log = structlog.get_logger(__name__)

TOPICS_FILE = "topics.yaml"
LISTS_FILE = "lists.yaml"
RULE_KEYS = tuple(Rule.model_fields)


@dataclass(frozen=True, slots=True)
class LocatedError:
    """One problem; ``line`` and ``column`` are 1-based, as editors and compilers print them."""

    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class RuleSetError(Exception):
    """The rule files are not all valid; ``errors`` lists every problem found, in file order."""

    def __init__(self, errors: list[LocatedError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def rule_files(rules_dir: Path) -> list[Path]:
    """``*.yaml`` and ``*.yml`` directly in ``rules_dir``, except topics.yaml, lists.yaml and dotfiles."""
    return sorted(
        p
        for p in rules_dir.iterdir()
        if p.suffix in (".yaml", ".yml")
        and p.name not in (TOPICS_FILE, LISTS_FILE)
        and not p.name.startswith(".")
        and p.is_file()
    )


def load_rules(
    rules_dir: Path,
    *,
    known_topics: Collection[str] | None = None,
    known_destinations: Collection[str] | None = None,
) -> RuleSet:
    """Load and compile every rule file; ``None`` for a name list means: do not check those names."""
    if not rules_dir.is_dir():
        raise RuleSetError([LocatedError(rules_dir, 1, 1, "rules folder not found")])
    errors: list[LocatedError] = []
    lists = _read_lists(rules_dir / LISTS_FILE, errors)
    # A list that lists.yaml failed to define is reported there, not again in every rule using it.
    lists_complete = not errors
    rules: list[Rule] = []
    first_seen: dict[str, LocatedError] = {}
    for path in rule_files(rules_dir):
        for rule, node in _read_file(path, lists, lists_complete, errors):
            checker = _Checker(path, node, errors)
            if rule.id in first_seen:
                where = first_seen[rule.id]
                checker.error(
                    ("id",), f"duplicate rule id '{rule.id}' (first defined at {where.path}:{where.line})"
                )
                continue
            first_seen[rule.id] = checker.locate(("id",), "")
            checker.names("topic", [rule.topic] if rule.topic else [], known_topics, "topic", TOPICS_FILE)
            checker.names("notify", list(rule.notify), known_destinations, "destination", "the admin config")
            rules.append(rule)
    if errors:
        raise RuleSetError(errors)
    ruleset = RuleSet(rules, lists)
    if ruleset.unindexed:
        log.warning("rules_run_on_every_article", rule_ids=list(ruleset.unindexed))
    return ruleset


def _load_yaml(path: Path, errors: list[LocatedError]) -> tuple[Any, str] | None:
    """The file's YAML tree (with positions) and text, or None after recording why it cannot be read."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.load(text), text
    except OSError as exc:
        errors.append(LocatedError(path, 1, 1, f"cannot read: {exc.strerror}"))
    except UnicodeDecodeError:
        errors.append(LocatedError(path, 1, 1, "not UTF-8 text"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        errors.append(LocatedError(path, line, column, f"invalid YAML: {exc.problem or exc.context}"))
    return None


def _read_lists(path: Path, errors: list[LocatedError]) -> dict[str, Node]:
    """Named term lists (``name: [word, prefix*, several words, ...]``) that queries use as ``@name``."""
    loaded = _load_yaml(path, errors) if path.exists() else None
    if loaded is None or loaded[0] is None:
        return {}
    data = loaded[0]

    def problem(line: int, column: int, message: str) -> None:
        errors.append(LocatedError(path, line + 1, column + 1, message))

    if not isinstance(data, CommentedMap):
        problem(0, 0, "lists.yaml maps each list name to its terms: 'name: [a, b]'")
        return {}
    lists: dict[str, Node] = {}
    for name, items in data.items():
        line, column = data.lc.key(name)
        if not isinstance(name, str) or not LIST_NAME.fullmatch(name):
            problem(line, column, f"'{name}': a list name is lower case letters, digits and '_'")
            continue
        if not isinstance(items, CommentedSeq) or not items:
            problem(line, column, f"list '{name}' needs a non-empty list of terms")
            continue
        terms: list[Node] = []
        for index, item in enumerate(items):
            try:
                terms.append(_list_term(item))
            except QueryError as exc:
                item_line, item_column = items.lc.item(index)
                problem(item_line, item_column + exc.pos, f"in list '{name}': {exc.message}")
        lists[name] = Or(tuple(terms), name)
    return lists


def _list_term(item: object) -> Term:
    """One entry of a list as a term, or :class:`QueryError` with the culprit's offset in the entry."""
    if not isinstance(item, str):
        raise QueryError(f"'{item}' is not text; quote it: \"{item}\"", 0)
    if item.startswith("@"):
        raise QueryError(f"'{item}': a list cannot name another list; write out its terms", 0)
    # Several words are a phrase: YAML has taken any quotes of its own off the entry, and query-style
    # quotes around it are accepted too.
    unquoted = len(item) > 1 and item[0] == item[-1] == '"'
    text = item[1:-1] if unquoted else item
    phrase = len(text.split()) > 1
    try:
        term = parse(f'"{text}"' if phrase else text)
    except QueryError as exc:  # back to an offset in the entry as written
        raise QueryError(exc.message, max(exc.pos - int(phrase) + int(unquoted), 0)) from None
    if not isinstance(term, Term):
        raise QueryError(f"'{item}': an entry is one term: a word, a prefix* or several words", 0)
    return term


def _read_file(
    path: Path, lists: dict[str, Node], lists_complete: bool, errors: list[LocatedError]
) -> Iterator[tuple[Rule, CommentedMap]]:
    loaded = _load_yaml(path, errors)
    if loaded is None or loaded[0] is None:
        return
    data, text = loaded
    if not isinstance(data, CommentedSeq):
        errors.append(
            LocatedError(path, 1, 1, "a rule file is a list of rules: start each rule with '- id: ...'")
        )
        return
    lines = text.splitlines()
    for index, item in enumerate(data):
        if not isinstance(item, CommentedMap):
            line, column = data.lc.item(index)
            errors.append(
                LocatedError(path, line + 1, column + 1, "each rule is a mapping of keys (id:, title:, ...)")
            )
            continue
        checker = _Checker(path, item, errors, lines, lists, lists_complete=lists_complete)
        try:
            rule = Rule.model_validate(_plain(item))
        except ValidationError as exc:
            for problem in exc.errors():
                checker.pydantic(problem)
            continue
        if rule.query is None or checker.query(rule.query):
            yield rule, item


class _Checker:
    """Turns a problem with one rule into a located error, using ruamel's positions of the YAML nodes."""

    def __init__(
        self,
        path: Path,
        node: CommentedMap,
        errors: list[LocatedError],
        lines: list[str] | None = None,
        lists: dict[str, Node] | None = None,
        *,
        lists_complete: bool = True,
    ) -> None:
        self.path = path
        self.node = node
        self.errors = errors
        self.lines = lines or []
        self.lists = lists or {}
        self.lists_complete = lists_complete

    def locate(self, loc: tuple[int | str, ...], message: str) -> LocatedError:
        """Position of the value at ``loc`` (a pydantic error location), or of the nearest known parent."""
        line, column = self.node.lc.line, self.node.lc.col
        current: Any = self.node
        for part in loc:
            if isinstance(current, CommentedMap) and part in current:
                line, column = current.lc.value(part)
                current = current[part]
            elif isinstance(current, CommentedSeq) and isinstance(part, int) and part < len(current):
                line, column = current.lc.item(part)
                current = current[part]
            else:
                break
        return LocatedError(self.path, line + 1, column + 1, message)

    def error(self, loc: tuple[int | str, ...], message: str) -> None:
        self.errors.append(self.locate(loc, message))

    def pydantic(self, problem: Any) -> None:
        loc = tuple(problem["loc"])
        kind = problem["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            parent = self.node if len(loc) == 1 else None
            line, column = (
                parent.lc.key(key)
                if parent is not None and key in parent
                else (self.node.lc.line, self.node.lc.col)
            )
            allowed = RULE_KEYS if len(loc) == 1 else ("match", "no_match")
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; keys are {', '.join(allowed)}"
            self.errors.append(LocatedError(self.path, line + 1, column + 1, f"unknown key '{key}'{hint}"))
        elif kind == "missing":
            self.error(loc[:-1], f"missing required key '{loc[-1]}'")
        else:
            name = ".".join(str(p) for p in loc) or "rule"
            message = str(problem["msg"]).removeprefix("Value error, ")
            self.error(loc, f"{name}: {message}")

    def query(self, query: str) -> bool:
        try:
            parse(query, self.lists)
        except QueryError as exc:
            if isinstance(exc, UnknownListError) and not self.lists_complete:
                return False
            line, column = self._inside_scalar("query", exc.pos)
            self.errors.append(LocatedError(self.path, line, column, exc.message))
            return False
        return True

    def names(
        self, key: str, values: list[str], known: Collection[str] | None, what: str, where: str
    ) -> None:
        if known is None:
            return
        for index, value in enumerate(values):
            if value in known:
                continue
            loc: tuple[int | str, ...] = (key, index) if key == "notify" else (key,)
            self.error(loc, unknown_name(what, value, known, where))

    def _inside_scalar(self, key: str, pos: int) -> tuple[int, int]:
        """1-based line and column in the file of character ``pos`` of a string value."""
        value = self.node[key]
        line, column = self.node.lc.value(key)
        if isinstance(value, LiteralScalarString | FoldedScalarString):
            return self._inside_block(line, pos)
        if isinstance(value, SingleQuotedScalarString):
            return line + 1, column + 2 + pos + str(value)[:pos].count("'")
        if isinstance(value, DoubleQuotedScalarString):
            escaped = sum(str(value)[:pos].count(ch) for ch in '"\\')
            return line + 1, column + 2 + pos + escaped
        return line + 1, column + 1 + pos

    def _inside_block(self, header_line: int, pos: int) -> tuple[int, int]:
        """Walk the block's lines: each source line contributes its text plus one joining character."""
        offset = 0
        line_no = header_line + 1
        while line_no < len(self.lines):
            source = self.lines[line_no]
            content = source.lstrip()
            indent = len(source) - len(content)
            if pos <= offset + len(content):
                return line_no + 1, indent + 1 + (pos - offset)
            offset += len(content) + 1
            line_no += 1
        return header_line + 1, 1


def _plain(node: Any) -> Any:
    """ruamel's commented containers to plain dicts, lists and strs, for pydantic."""
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node
