from datetime import date
from pathlib import Path

import pytest

from monitor.ingest.metadata import Metadata, detect_language, extract_metadata, parse_date_line

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # A dateline ("BEIRUT //") opens a body paragraph: no title, and a place is not a source. The
        # closing credit line names the outlet; Reuters only contributed. No date is stated.
        (
            "000_805448790873fa1e.txt",
            Metadata(title=None, source="Associated Press", language="en"),
        ),
        (
            "001_ce9271161a6415bd.txt",
            Metadata(
                title="Syria Proposes Aleppo Ceasefire, Prisoner Swap",
                source="The Moscow Times",
                published=date(2014, 1, 19),
                url="https://www.themoscowtimes.com/2014/01/19/syria-proposes-aleppo-ceasefire-prisoner-swap-a31208",
                language="en",
            ),
        ),
        # Body from line one; "he told The Associated Press" is a quote, not a byline.
        ("002_da3e7f07827a03a9.txt", Metadata(language="en")),
        # "Elad Benari, Canada ," is an author; "according to Russia Today" is a cited source, not the outlet.
        (
            "003_677e52f2b0f5540b.txt",
            Metadata(title="Syria Offers Ceasefire in Aleppo", author="Elad Benari", language="en"),
        ),
        # Title repeated on line three; "Copyright 2007" names no one.
        (
            "004_1d082853e5d5db67.txt",
            Metadata(
                title="US, Russia push for ceasefire in run-up to Syria conference",
                published=date(2014, 1, 13),
                language="en",
            ),
        ),
    ],
)
def test_sample_metadata_is_exactly_what_the_text_states(name: str, expected: Metadata) -> None:
    assert extract_metadata((SEEDS / name).read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("January 19, 2014", date(2014, 1, 19)),
        ("13th, January 2014", date(2014, 1, 13)),
        ("19 Jan. 2014", date(2014, 1, 19)),
        ("Published: Sunday, 19 January 2014 10:32 AM GMT", date(2014, 1, 19)),
        ("2014-01-19T08:00:00Z", date(2014, 1, 19)),
        ("**January 19, 2014**", date(2014, 1, 19)),
        ("February 30, 2014", None),
        ("01/02/2014", None),
        ("On January 19, 2014 the talks began.", None),
        ("yesterday", None),
    ],
)
def test_only_a_line_that_is_a_date_gives_a_date(line: str, expected: date | None) -> None:
    assert parse_date_line(line) == expected


def test_setext_heading_byline_with_person_and_agency_and_bare_url() -> None:
    text = (
        "Truce Holds in Homs\n===================\n\nBy Jane Doe, Reuters\n\nPosted 3 March 2014\n\n"
        "The truce held overnight.\n\nURL: https://example.org/truce\n"
    )
    assert extract_metadata(text) == Metadata(
        title="Truce Holds in Homs",
        source="Reuters",
        author="Jane Doe",
        published=date(2014, 3, 3),
        url="https://example.org/truce",
    )


def test_labelled_non_http_url_and_bare_copyright_are_ignored_but_named_copyright_counts() -> None:
    text = "Plain headline\n\nBody sentence.\n\nOriginal url: javascript:alert(1)\n\n© 2014 The National\n"
    metadata = extract_metadata(text)
    assert metadata.url is None
    assert metadata.source == "The National"


@pytest.mark.parametrize(
    "first_line",
    [
        "BEIRUT // Syria has offered a ceasefire",
        "PARIS — The United States and Russia said",
        "A long first line that is clearly a sentence of the body and ends with a period.",
        "",
    ],
)
def test_body_text_on_the_first_line_is_not_a_title(first_line: str) -> None:
    assert extract_metadata(first_line + "\nMore text.\n").title is None


def test_empty_text_has_no_metadata() -> None:
    assert extract_metadata("") == Metadata()


def test_language_is_detected_only_when_clear() -> None:
    french = (
        "Le gouvernement syrien a proposé un cessez-le-feu dans la ville d'Alep et un échange de prisonniers "
        "avec l'opposition, une offre accueillie avec scepticisme par les rebelles qui ne croient pas "
        "aux promesses du régime. Les discussions de paix doivent commencer la semaine prochaine en Suisse, "
        "mais la coalition de l'opposition n'a pas encore décidé si elle va y participer."
    )
    assert detect_language(french) == "fr"
    assert detect_language("Aleppo ceasefire prisoner swap") is None
    assert detect_language("Aleppo Homs Damascus Idlib Raqqa " * 20) is None
