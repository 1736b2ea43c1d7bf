import codecs
import hashlib
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor.ingest.reader import (
    Binary,
    Empty,
    Missing,
    NotAFile,
    OutsideInbox,
    TooLarge,
    UndecodableName,
    Unreadable,
    check_name,
    read_article,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
FRENCH = (
    "Cessez-le-feu à Alep\n\n"
    "Le ministre a proposé un cessez-le-feu à Alep et un échange de prisonniers. L'opposition, réunie à "
    "Istanbul, reste sceptique: « c'est une manœuvre », a déclaré un élu. Les négociations de Genève "
    "commencent mercredi; la coalition n'a pas décidé si elle y participera, ni à quelles conditions.\n"
)
ENGLISH_CP1252 = (
    "Ceasefire offer\n\n"
    "Syria\u2019s minister spoke of \u201cmeasures to enforce security\u201d in Aleppo \u2014 a plan "
    "the caf\u00e9 owners of the old city doubted. \u201cWe have heard this before,\u201d one said.\n"
)


def test_sample_reads_with_metadata_id_and_defaults(tmp_path: Path) -> None:
    received = datetime(2014, 1, 20, 8, 0, tzinfo=UTC)
    article = read_article(SEEDS / "001_ce9271161a6415bd.txt", received_at=received)
    text = (SEEDS / "001_ce9271161a6415bd.txt").read_text(encoding="utf-8")
    assert article.id == hashlib.sha256(text.encode()).hexdigest()
    assert article.text == text
    assert article.received_at == received
    assert (article.title, article.source, article.published) == (
        "Syria Proposes Aleppo Ceasefire, Prisoner Swap",
        "The Moscow Times",
        date(2014, 1, 19),
    )
    assert article.encoding == "utf-8"
    assert article.language == "en"


@pytest.mark.parametrize(
    ("encoded", "text", "encoding"),
    [
        (codecs.BOM_UTF8 + FRENCH.encode("utf-8"), FRENCH, "utf-8"),
        (FRENCH.encode("utf-16"), FRENCH, "utf-16"),
        (codecs.BOM_UTF16_BE + FRENCH.encode("utf-16-be"), FRENCH, "utf-16"),
        (FRENCH.encode("utf-32"), FRENCH, "utf-32"),
        (FRENCH.replace("œ", "oe").encode("latin-1"), FRENCH.replace("œ", "oe"), "cp1252"),
        (ENGLISH_CP1252.encode("cp1252"), ENGLISH_CP1252, "cp1252"),
    ],
)
def test_encodings_decode_to_the_same_text_and_id(
    tmp_path: Path, encoded: bytes, text: str, encoding: str
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(encoded)
    article = read_article(path)
    assert article.text == text
    assert article.encoding == encoding
    assert article.id == hashlib.sha256(text.encode()).hexdigest()


def test_crlf_and_cr_newlines_are_normalised_and_give_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "lf.txt").write_bytes(FRENCH.encode())
    (tmp_path / "crlf.txt").write_bytes(FRENCH.replace("\n", "\r\n").encode())
    (tmp_path / "cr.txt").write_bytes(codecs.BOM_UTF8 + FRENCH.replace("\n", "\r").encode())
    articles = [read_article(tmp_path / name) for name in ("lf.txt", "crlf.txt", "cr.txt")]
    assert {article.id for article in articles} == {articles[0].id}
    assert all("\r" not in article.text for article in articles)
    assert articles[1].title == "Cessez-le-feu à Alep"


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (b"", Empty, "empty"),
        (b"  \n\t\r\n  ", Empty, "empty"),
        (codecs.BOM_UTF8 + b"\r\n", Empty, "empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, Binary, "binary"),
        (b"text\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 20, Binary, "binary"),
    ],
)
def test_unusable_content_is_refused_with_a_reason(
    tmp_path: Path, content: bytes, error: type[Unreadable], reason: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        read_article(path)
    assert caught.value.reason == reason
    assert caught.value.quarantine
    assert caught.value.path == path
    assert str(caught.value)


def test_oversize_file_is_refused_before_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50_000_000)  # sparse: 50 MB that were never written
    with pytest.raises(TooLarge) as caught:
        read_article(path, max_bytes=5_000_000)
    assert caught.value.reason == "too_large"
    small = tmp_path / "small.txt"
    small.write_text("x" * 101)
    with pytest.raises(TooLarge):
        read_article(small, max_bytes=100)
    small.write_text("x" * 100)
    assert read_article(small, max_bytes=100).text == "x" * 100


def test_special_files_and_directories_are_not_files(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile):
        read_article(fifo)  # must not block waiting for a writer
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(NotAFile):
        read_article(tmp_path / "dir.txt")


def test_vanished_file_is_missing_and_not_for_quarantine(tmp_path: Path) -> None:
    with pytest.raises(Missing) as caught:
        read_article(tmp_path / "gone.txt")
    assert not caught.value.quarantine


def test_symlinks_are_checked_against_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the daemon\n")
    (inbox / "inside.txt").write_text("An article.\n")
    (inbox / "out.txt").symlink_to(secret)
    (inbox / "in.txt").symlink_to(inbox / "inside.txt")
    (inbox / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(OutsideInbox) as caught:
        read_article(inbox / "out.txt", inbox=inbox)
    assert caught.value.reason == "outside_inbox"
    assert read_article(inbox / "in.txt", inbox=inbox).text == "An article.\n"
    with pytest.raises(NotAFile):
        read_article(inbox / "dangling.txt", inbox=inbox)


def test_a_symlink_swapped_after_its_check_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "inside.txt").write_text("An article.\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the daemon\n")
    link = inbox / "link.txt"
    link.symlink_to(inbox / "inside.txt")
    real_open = os.open

    def swap_then_open(path: Path, flags: int, *args: int) -> int:
        """The race an attacker with write access to the inbox would win: swap between check and open."""
        if path == link:
            link.unlink()
            link.symlink_to(secret)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(OutsideInbox, match="changed between its inbox check and its opening"):
        read_article(link, inbox=inbox)


def test_a_folder_swapped_after_the_check_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race one level up: the link stays, a folder on its way becomes a link out."""
    inbox = tmp_path / "inbox"
    (inbox / "d").mkdir(parents=True)
    (inbox / "d" / "x.txt").write_text("An article.\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("not for the daemon\n")
    link = inbox / "a.txt"
    link.symlink_to(inbox / "d" / "x.txt")
    real_open = os.open

    def swap_then_open(path: Path, flags: int, *args: int, **kwargs: int) -> int:
        if path == link:
            monkeypatch.setattr(os, "open", real_open)  # rmtree opens files too
            shutil.rmtree(inbox / "d")
            (inbox / "d").symlink_to(outside)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(OutsideInbox, match="changed between its inbox check and its opening"):
        read_article(link, inbox=inbox)


def test_odd_names_are_read(tmp_path: Path) -> None:
    for name in ("with space.txt", "Алеппо — 停火.txt", "new\nline.txt", "no-extension"):
        path = tmp_path / name
        path.write_text("Aleppo ceasefire.\n")
        assert read_article(path).path == path


def test_a_name_that_is_not_utf8_is_refused_before_the_file_is_opened(tmp_path: Path) -> None:
    """Bytes from a legacy code page reach Python as lone surrogates, which SQLite and JSON cannot encode."""
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/Alep-cessez-le-feu-\xe0-\xe9t\xe9.txt"))
    path.write_text("Aleppo ceasefire.\n")
    with pytest.raises(UndecodableName) as refused:
        read_article(path)
    assert refused.value.reason == "undecodable_name"
    assert refused.value.quarantine
    with pytest.raises(UndecodableName):
        check_name(tmp_path / "gone" / Path(os.fsdecode(b"\xff.txt")))  # checked without touching the disk
    check_name(tmp_path / "Алеппо 停火.txt")
