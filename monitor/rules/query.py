"""The analysts' query language: a parser from text to an immutable syntax tree, with located errors.

Grammar (precedence from loose to tight: OR, AND, NOT, NEAR/ONEAR)::

    query    := or EOF
    or       := and ("OR" and)*
    and      := unary ("AND" unary)*
    unary    := "NOT" unary | near
    near     := primary (("NEAR/n" | "ONEAR/n") primary)*
    primary  := "(" or ")" | "SENTENCE(" or ")" | ("title:" | "text:") primary
              | ("source:" | "lang:") value | "case:" value | value | "@" LIST
    value    := WORD | WORD* | '"' phrase '"'

``@name`` stands for the OR of a named term list (``lists.yaml`` beside the rules), so that a long list
such as the nationalities is written once and shared by every rule that needs it.

Two terms side by side without an operator are an error, never a silent AND or OR: analysts come from
tools that disagree on that default. The parser never raises anything but :class:`QueryError`, whose
``pos`` is the offending character's offset in the query.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from monitor.rules.suggest import unknown_name
from monitor.text.normalize import tokenize, words

FIELDS = ("title", "text", "source", "lang", "case")
MAX_DISTANCE = 100
MIN_PREFIX = 3
_MAX_DEPTH = 64


class QueryError(ValueError):
    """A query that cannot be compiled; ``pos`` is the 0-based offset of the culprit in the query."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class UnknownListError(QueryError):
    """``@name`` names no list: the loader stays quiet about it when lists.yaml itself has errors."""


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Word:
    """One folded word: ``norm`` for case-insensitive words and prefixes, the folded raw form if ``case``."""

    text: str
    label: str
    prefix: bool = False
    case: bool = False


@dataclass(frozen=True, slots=True)
class Term:
    """A bare word, a word with a wildcard, a quoted phrase or a word the tokeniser splits (``U.S.``)."""

    words: tuple[Word, ...]
    label: str
    # Compiled matchers are cached by syntax tree (explain parses queries afresh), so the hash of a term is
    # asked for often: compute it once.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.words, self.label)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type["Term"], tuple[tuple[Word, ...], str]]:
        return (Term, (self.words, self.label))  # a string's hash differs between processes: recompute


@dataclass(frozen=True, slots=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple["Node", ...]
    name: str | None = field(default=None, compare=False)
    """The term list (``@name``) this OR was written as; printed back as ``@name``, ignored by ``==``."""


@dataclass(frozen=True, slots=True)
class Not:
    child: "Node"


@dataclass(frozen=True, slots=True)
class Near:
    left: "Node"
    right: "Node"
    distance: int
    ordered: bool


@dataclass(frozen=True, slots=True)
class Sentence:
    child: "Node"


@dataclass(frozen=True, slots=True)
class Field:
    zone: Literal["title", "text"]
    child: "Node"


@dataclass(frozen=True, slots=True)
class Filter:
    """A test on article metadata: ``source:`` (words of the source name) or ``lang:`` (language code)."""

    name: Literal["source", "lang"]
    value: tuple[str, ...]


Node = Term | And | Or | Not | Near | Sentence | Field | Filter


def is_positive(node: Node) -> bool:
    """True if the node can only hold when something is present (a term or a metadata value)."""
    match node:
        case Term() | Filter():
            return True
        case And(children):
            return any(is_positive(c) for c in children)
        case Or(children):
            return all(is_positive(c) for c in children)
        case Not():
            return False
        case Near():
            return True
        case Sentence(child) | Field(_, child):
            return is_positive(child)
    raise AssertionError(node)


# ---------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: Literal["(", ")", "word", "quoted", "and", "or", "not", "near", "sentence", "field", "list", "eof"]
    text: str
    pos: int
    end: int
    distance: int = 0
    ordered: bool = False


_BARE = re.compile(r'[^\s()"]+')
_NEAR = re.compile(r"(O?)NEAR/(\d+)")
_NEAR_TYPO = re.compile(r"(?i)(o?near|w|pre)[/:]?(\d*)")
_UNSUPPORTED = re.compile(r"[~^\[\]{}\\&|!@]")
LIST_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    n = len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            toks.append(_Tok(ch, ch, i, i + 1))  # type: ignore[arg-type]
            i += 1
        elif ch == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QueryError('unclosed quote: add the closing "', i)
            toks.append(_Tok("quoted", query[i + 1 : close], i, close + 1))
            i = close + 1
        else:
            bare = _BARE.match(query, i)
            assert bare is not None  # any other character starts a bare run
            i = _lex_bare(query, bare.group(), bare.start(), toks)
    toks.append(_Tok("eof", "", n, n))
    return toks


def _lex_bare(query: str, text: str, pos: int, toks: list[_Tok]) -> int:
    """Append the token(s) of one bare run; returns where lexing resumes."""
    end = pos + len(text)
    colon = text.find(":")
    if colon >= 0 and not _NEAR_TYPO.fullmatch(text):
        name = text[:colon]
        if name.lower() not in FIELDS:
            shown = name or text
            raise QueryError(
                f"unknown field '{shown}'; fields are {', '.join(f + ':' for f in FIELDS)} "
                f'(to search for "{text}", put it in quotes)',
                pos,
            )
        toks.append(_Tok("field", name.lower(), pos, pos + colon + 1))
        return pos + colon + 1
    if text in ("AND", "OR", "NOT"):
        toks.append(_Tok(text.lower(), text, pos, end))  # type: ignore[arg-type]
        return end
    near = _NEAR.fullmatch(text)
    if near:
        distance = int(near.group(2))
        if distance > MAX_DISTANCE:
            raise QueryError(f"{text}: the distance must be at most {MAX_DISTANCE} words", pos)
        toks.append(_Tok("near", text, pos, end, distance=distance, ordered=bool(near.group(1))))
        return end
    if text.startswith("@"):
        if not LIST_NAME.fullmatch(text[1:]):
            raise QueryError(
                f"'{text}': @ names a term list, whose name is lower case letters, digits and '_' "
                f'(@countries); to search for the text itself, quote it: "{text}"',
                pos,
            )
        toks.append(_Tok("list", text, pos, end))
        return end
    if text == "SENTENCE":
        rest = query[end:].lstrip()
        if not rest.startswith("("):
            raise QueryError("SENTENCE needs parentheses: SENTENCE(truce AND aleppo)", pos)
        toks.append(_Tok("sentence", text, pos, end))
        return end
    _reject_lookalikes(text, pos)
    toks.append(_Tok("word", text, pos, end))
    return end


def _reject_lookalikes(text: str, pos: int) -> None:
    """Catch what analysts type from other tools, and say what to write instead."""
    typo = _NEAR_TYPO.fullmatch(text)
    if typo and (typo.group(1).lower() in ("near", "onear") or "/" in text):
        op = "ONEAR" if typo.group(1).lower() in ("onear", "pre") else "NEAR"
        distance = typo.group(2) or "5"
        raise QueryError(f"unknown operator '{text}'; did you mean {op}/{distance}?", pos)
    if text.lower() in ("and", "or", "not"):
        raise QueryError(
            f"'{text}': operators are written in capitals ({text.upper()}); "
            f'to search for the word, put it in quotes: "{text}"',
            pos,
        )
    if text.upper() == "SENTENCE":
        raise QueryError(f"'{text}': write SENTENCE(...) in capitals", pos)
    if text in ("&&", "||"):
        raise QueryError(f"'{text}' is not an operator here; write {'AND' if text == '&&' else 'OR'}", pos)
    if text[0] in "+-":
        raise QueryError(f"'{text[0]}' before a word is not an operator here; write AND / NOT instead", pos)
    bad = _UNSUPPORTED.search(text)
    if bad:
        raise QueryError(f"unsupported character '{bad.group()}' (quote the text to search for it)", pos)


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, query: str, lists: Mapping[str, Node]) -> None:
        self.query = query
        self.lists = lists
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise QueryError("empty query", 0)
        node = self.or_()
        after = self.tok  # or_() stops only at the end or at a ')' that nothing opened
        if after.kind != "eof":
            raise QueryError("unmatched ')'", after.pos)
        if not is_positive(node):
            raise QueryError(
                "the query must require at least one term: NOT on its own, or in every branch of an OR, "
                "would match almost every article",
                0,
            )
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while self.tok.kind == "or":
            self.take()
            children.append(self.and_())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self) -> Node:
        children = [self.unary()]
        while True:
            if self.tok.kind == "and":
                self.take()
                children.append(self.unary())
            elif self.tok.kind == "not":
                before = self.toks[self.i - 1]
                raise QueryError(
                    f"missing operator before NOT: write '{before.text} AND NOT ...'", self.tok.pos
                )
            elif self.tok.kind in ("word", "quoted", "(", "field", "sentence", "list"):
                before = self.toks[self.i - 1]
                phrase = (
                    f', or quote them as a phrase: "{before.text} {self.tok.text}"'
                    if before.kind in ("word", "quoted") and self.tok.kind in ("word", "quoted")
                    else ""
                )
                raise QueryError(
                    f"missing operator between '{before.text}' and '{self.tok.text}': write AND or OR "
                    f"between them{phrase}",
                    self.tok.pos,
                )
            else:
                return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        if self.tok.kind == "not":
            self.take()
            self.enter()
            child = self.unary()
            self.depth -= 1
            return Not(child)
        return self.near()

    def near(self) -> Node:
        start = self.tok.pos
        left = self.primary()
        while self.tok.kind == "near":
            op = self.take()
            _check_near_operand(left, start, op.text)
            operand = self.tok
            right_pos = operand.pos
            if operand.kind == "not":
                raise QueryError(
                    f"NOT cannot be an operand of {op.text}; use SENTENCE(a AND NOT b)", right_pos
                )
            right = self.primary()
            _check_near_operand(right, right_pos, op.text)
            left = Near(left, right, op.distance, op.ordered)
        return left

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QueryError(f"the query nests more than {_MAX_DEPTH} levels deep", self.tok.pos)

    def primary(self) -> Node:
        tok = self.take()
        match tok.kind:
            case "(":
                self.enter()
                node = self.or_()
                self.depth -= 1
                self.expect_close(tok)
                return node
            case "sentence":
                opener = self.take()
                self.enter()
                node = self.or_()
                self.depth -= 1
                self.expect_close(opener)
                if not is_positive(node):
                    raise QueryError("SENTENCE(...) must require at least one term", tok.pos)
                return Sentence(node)
            case "field":
                return self.field(tok)
            case "word" | "quoted":
                return _term(tok, case=False)
            case "list":
                return self.list_(tok)
            case "eof":
                raise QueryError("the query ends where a term was expected", tok.pos)
            case ")":
                raise QueryError("')' where a term was expected", tok.pos)
        raise QueryError(f"'{tok.text}' needs a term before it", tok.pos)

    def field(self, tok: _Tok) -> Node:
        name = tok.text
        if name in ("title", "text"):
            self.enter()
            if self.tok.kind in ("eof", ")") or self.tok.pos != tok.end:
                raise QueryError(f"{name}: must be followed directly by a term or '('", tok.end)
            child = self.primary()
            self.depth -= 1
            return Field("title" if name == "title" else "text", child)
        value = self.take()
        if value.kind not in ("word", "quoted") or value.pos != tok.end:
            raise QueryError(f"{name}: must be followed directly by a word or a quoted phrase", tok.end)
        if name == "case":
            return _term(value, case=True)
        folded = tuple(words(value.text))
        if not folded:
            raise QueryError(f"{name}: has no letters or digits to compare", value.pos)
        return Filter("source" if name == "source" else "lang", folded)

    def list_(self, tok: _Tok) -> Node:
        node = self.lists.get(tok.text.removeprefix("@"))
        if node is None:
            known = [f"@{name}" for name in self.lists]
            raise UnknownListError(unknown_name("list", tok.text, known, "lists.yaml"), tok.pos)
        return node

    def expect_close(self, opener: _Tok) -> None:
        if self.tok.kind != ")":
            raise QueryError(f"missing ')' to close the '(' at offset {opener.pos + 1}", self.tok.pos)
        self.take()


def _check_near_operand(node: Node, pos: int, op: str) -> None:
    match node:
        case Term() | Near():
            return
        case Or(children):
            for child in children:
                _check_near_operand(child, pos, op)
            return
    raise QueryError(
        f"{op} joins terms, phrases, OR-groups or other NEARs; for AND, NOT or fields use "
        "SENTENCE(a AND b) or combine outside the NEAR",
        pos,
    )


def _term(tok: _Tok, *, case: bool) -> Term:
    """Fold a bare word or a quoted phrase into words, exactly as article text is folded."""
    quoted = tok.kind == "quoted"
    base = tok.pos + 1 if quoted else tok.pos
    folded: list[Word] = []
    for chunk in re.finditer(r"\S+", tok.text):
        piece = chunk.group()
        pos = base + chunk.start()
        if "*" in piece:
            folded.append(_prefix(piece, pos, case=case))
            continue
        tokens = tokenize(piece)
        for word in tokens.raws if case else tokens.norms:
            folded.append(Word(word, piece, case=case))
    if not folded:
        what = "an empty phrase" if quoted else f"'{tok.text}' has no letters or digits"
        raise QueryError(f"{what}: nothing to search for", tok.pos)
    return Term(tuple(folded), tok.text if not quoted else f'"{tok.text}"')


def _prefix(piece: str, pos: int, *, case: bool) -> Word:
    if case:
        raise QueryError("case: cannot be combined with a wildcard", pos)
    star = piece.index("*")
    if star != len(piece) - 1:
        raise QueryError(f"'{piece}': only a trailing * is supported (ceasefir*)", pos + star)
    stem_words = words(piece[:-1])
    if len(stem_words) != 1:
        raise QueryError(f"'{piece}': a wildcard applies to one word", pos)
    if len(stem_words[0]) < MIN_PREFIX:
        raise QueryError(f"'{piece}': a wildcard needs at least {MIN_PREFIX} letters before the *", pos)
    return Word(stem_words[0], piece, prefix=True)


def parse(query: str, lists: Mapping[str, Node] | None = None) -> Node:
    """Parse ``query`` or raise :class:`QueryError` (never anything else, whatever the input).

    ``lists`` maps the names a query may refer to as ``@name`` to their (already parsed) OR of terms.
    """
    return _Parser(query, lists or {}).parse()


def unparse(node: Node) -> str:
    """The query text of a syntax tree, with parentheses around every compound operand.

    ``parse(unparse(node), lists) == node`` for every tree ``parse(..., lists)`` returns; explanations print
    clauses with it.
    """
    match node:
        case Term(ws, label):
            return f"case:{label}" if ws[0].case else label
        case Filter(name, value):
            return f'{name}:"{" ".join(value)}"' if len(value) > 1 else f"{name}:{value[0]}"
        case And(children):
            return " AND ".join(map(_operand, children))
        case Or(children, name):
            return f"@{name}" if name else " OR ".join(map(_operand, children))
        case Not(child):
            return f"NOT {_operand(child)}"
        case Near(left, right, distance, ordered):
            return f"{_operand(left)} {'ONEAR' if ordered else 'NEAR'}/{distance} {_operand(right)}"
        case Sentence(child):
            return f"SENTENCE({unparse(child)})"
        case Field(zone, child):
            return f"{zone}:{_operand(child)}"
    raise AssertionError(node)


def _operand(node: Node) -> str:
    text = unparse(node)
    bare = isinstance(node, Term | Filter | Sentence | Field | Not) or (isinstance(node, Or) and node.name)
    return text if bare else f"({text})"
