"""The one report renderer: Markdown and standalone HTML from the same blocks."""

from __future__ import annotations

from docasset.core.reporting.blocks import (
    Bullets,
    Heading,
    Image,
    Para,
    Table,
    md_table,
    to_html,
    to_markdown,
)

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_markdown_and_html_render_every_block_kind() -> None:
    blocks = [
        Heading("Report 1", 1),
        Para("**bold** and *em* and `code`"),
        Bullets(["one", "two"]),
        Table(["a", "b|c"], [["1", "x|y"]], frozenset({1})),
        Image("p.png", "plot", PNG),
    ]
    md = to_markdown(blocks)
    assert md.startswith("# Report 1\n")
    assert "- one\n- two" in md and "`x\\|y`" in md
    assert "![plot](data:image/png;base64," in md
    page = to_html(blocks)
    assert "<title>Report 1</title>" in page
    assert "<b>bold</b>" in page and "<i>em</i>" in page and "<code>code</code>" in page
    assert "<img" in page and "<code>x|y</code>" in page


def test_html_escapes_text_it_did_not_write() -> None:
    page = to_html([Para("<script>alert(1)</script> a*b*c")], "t")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<i>" not in page  # a*b*c is not emphasis


def test_md_table_formats_floats_and_blanks() -> None:
    out = md_table([{"a": 0.12345, "b": None}, {"a": "x\ny", "b": 3}], ["a", "b"])
    assert out.splitlines() == ["| a | b |", "|---|---|", "| 0.123 |  |", "| x y | 3 |"]


def test_links_to_relative_pages_render_and_other_schemes_do_not() -> None:
    page = to_html([Para("see the [drift page](health-2026-03-04-drift.html)")], "t")
    assert '<a href="health-2026-03-04-drift.html">drift page</a>' in page
    assert "[drift page](health-2026-03-04-drift.html)" in to_markdown(
        [Para("see the [drift page](health-2026-03-04-drift.html)")]
    )
    bad = to_html([Para("[x](javascript:alert(1))")], "t")
    assert "<a " not in bad


def test_markdown_keeps_angle_brackets_of_paths_visible() -> None:
    md = to_markdown(
        [Para("written to reports/health-<day>.md and `review/<batch>/`"), Bullets(["a<b>"])]
    )
    assert "reports/health-&lt;day&gt;.md" in md  # not an HTML tag the Dagster UI swallows
    assert "`review/<batch>/`" in md  # a code span shows it as is
    assert "- a&lt;b&gt;" in md
