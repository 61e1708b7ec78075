"""Label values read from the layout: right of the label in its cell, below it in its column."""

from __future__ import annotations

import polars as pl

from docasset.core.extraction.cells import find_labelled_cells
from docasset.core.extraction.extract import field_candidates, other_labels
from docasset.core.extraction.fields import FieldSpec
from docasset.core.ocr.text import document_text, has_boxes, word_spans

CHAR, HEIGHT, SPACE = 6, 10, 6  # a word's width per character, its height, a space


def _page(rows: list[list[tuple[str, int]]], page: int = 0) -> pl.DataFrame:
    """A word table: each row a list of (phrase, x); a phrase's words are set a space apart,
    phrases at their x (a column)."""
    out: dict[str, list] = {k: [] for k in ("text", "line", "word", "left", "top", "width")}
    for line, row in enumerate(rows):
        n = 0
        for phrase, x in row:
            for w in phrase.split():
                out["text"].append(w)
                out["line"].append(line)
                out["word"].append(n)
                out["left"].append(x)
                out["top"].append(line * 2 * HEIGHT)
                out["width"].append(CHAR * len(w))
                x += CHAR * len(w) + SPACE
                n += 1
    k = len(out["text"])
    return pl.DataFrame(
        {
            "doc_id": ["d"] * k,
            "page": [page] * k,
            "block": [0] * k,
            "par": [0] * k,
            **out,
            "height": [HEIGHT] * k,
            "conf": [100.0] * k,
        }
    ).with_columns(pl.col(c).cast(pl.Int32) for c in ("page", "line", "word", "left", "top"))


# A broadcast contract: headers over their values, columns side by side.
CONTRACT = [
    [("KWTX", 0), ("Contract / Revision", 300), ("Alt Order #", 500)],
    [("6700 American Plaza", 0), ("1528945 /", 300), ("WOC12515123", 500)],
    [("Waco, TX 76712", 0), ("Advertiser", 300), ("Original Date / Revision", 500)],
    [("Sales T & C: www.gray.tv", 0), ("Cody Johnson", 300), ("02/18/20 / 02/27/20", 500)],
    [("Agy Code", 0), ("Advertiser Code", 300), ("Product 1/2", 500)],
    [("162259", 0), ("177415", 300)],
    [("Totals", 0), ("124", 200), ("$31,190.00", 400)],
    [("the Advertiser agrees to pay Station for all spots", 0)],
]


def _doc(rows: list[list[tuple[str, int]]]) -> tuple[str, list]:
    words = _page(rows)
    return document_text(words, "d"), word_spans(words)["d"]


def test_a_value_below_its_header_is_read_in_the_headers_column() -> None:
    text, spans = _doc(CONTRACT)
    assert has_boxes(spans)
    got = find_labelled_cells(text, spans, ("contract",), "identifier")
    assert got[0].text == "1528945" and got[0].strength == 0.9
    # The text alone would take the first identifier of the next line: the street number.
    spec = FieldSpec("contract_num", "C", True, "identifier", keywords=("contract",))
    assert field_candidates(spec, text)[0].text == "6700"
    assert field_candidates(spec, text, words=spans)[0].text == "1528945"


def test_a_text_value_is_the_cell_under_its_label_not_the_whole_row() -> None:
    text, spans = _doc(CONTRACT)
    got = find_labelled_cells(
        text, spans, ("advertiser",), "text", not_keywords=("advertiser code",)
    )
    values = [c.text for c in got]
    assert values[0] == "Cody Johnson"
    # "Advertiser Code" heads another value; "the Advertiser agrees..." is running text.
    assert "Code" not in values and "177415" not in values
    assert not any("agrees" in v or "Station" in v for v in values)
    with_code = [c.text for c in find_labelled_cells(text, spans, ("advertiser",), "text")]
    assert "Code" in with_code  # what not_keywords removes


def test_a_typed_value_right_of_its_label_is_the_first_of_its_type_on_the_row() -> None:
    text, spans = _doc(CONTRACT)
    got = find_labelled_cells(text, spans, ("totals",), "amount")
    assert [c.text for c in got] == ["31,190.00"] and got[0].strength == 1.0


def test_a_value_in_the_labels_cell_and_a_label_for_a_value_are_told_apart() -> None:
    rows = [
        [("Advertiser: Bernie 2020", 0), ("Agency:", 300)],
        [("Flight Dates 02/19/20 - 02/25/20", 0)],
        [("Client", 0), ("Agency:", 300)],
    ]
    text, spans = _doc(rows)
    assert [c.text for c in find_labelled_cells(text, spans, ("advertiser",), "text")] == [
        "Bernie 2020"
    ]
    assert find_labelled_cells(text, spans, ("client",), "text") == []  # "Agency:" is a label
    end = find_labelled_cells(text, spans, ("flight dates",), "date", "end")
    assert [c.text for c in end] == ["02/25/20"]


def test_below_stays_on_the_labels_page_and_without_boxes_nothing_is_read() -> None:
    words = pl.concat([_page([[("Contract", 0)]], page=0), _page([[("1528945", 0)]], page=1)])
    text, spans = document_text(words, "d"), word_spans(words)["d"]
    assert find_labelled_cells(text, spans, ("contract",), "identifier") == []
    confs_only = [w[:3] for w in spans]
    assert not has_boxes(confs_only)  # type: ignore[arg-type]
    assert find_labelled_cells(text, confs_only, ("contract",), "identifier") == []  # type: ignore[arg-type]


def test_a_text_value_ends_at_another_fields_label_and_drops_its_tag_first() -> None:
    rows = [
        [("Advertiser SHEILA JACKSON LEE FOR CONGRESS Invoice # 1044546", 0)],
        [("Advertiser: Biden for President-D (27957)", 0)],
    ]
    text, spans = _doc(rows)
    got = [
        c.text
        for c in find_labelled_cells(text, spans, ("advertiser",), "text", stops=("invoice #",))
    ]
    assert got == [
        "SHEILA JACKSON LEE FOR CONGRESS",
        "Biden for President-D",
        "Biden for President-D (27957)",
    ]
    spec = FieldSpec("advertiser", "A", True, "text", keywords=("advertiser",))
    other = FieldSpec("contract_num", "C", True, "identifier", keywords=("invoice #",))
    from docasset.core.extraction.fields import DocType

    assert other_labels(DocType("t", (spec, other)), spec) == ("invoice #",)


def test_a_header_repeated_on_every_page_is_one_candidate() -> None:
    page = [[("Advertiser", 0)], [("Cody Johnson", 0)]]
    words = pl.concat([_page(page, 0), _page(page, 1)])
    text, spans = document_text(words, "d"), word_spans(words)["d"]
    got = find_labelled_cells(text, spans, ("advertiser",), "text")
    assert [c.text for c in got] == ["Cody Johnson"] and got[0].start < text.index("\n\n")


def test_a_form_label_with_a_colon_inside_a_line_is_read() -> None:
    rows = [[("Agency: FP1 Strategies, LLC Advertiser: BUEHLER, KNUTE Market: Bend, OR", 0)]]
    text, spans = _doc(rows)
    got = find_labelled_cells(text, spans, ("advertiser",), "text", stops=("market",))
    assert [c.text for c in got][:1] == ["BUEHLER, KNUTE"]
