"""Report blocks (headings, paragraphs with links, tables, PNG images) and their two renderings:
Markdown (the Dagster UI, ``report.md``) and a standalone HTML page (plots embedded)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str  # may contain **bold**


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    code_columns: frozenset[int] = frozenset()  # cells shown verbatim (OCR snippets)


@dataclass(frozen=True)
class Image:
    name: str  # file name when written next to report.md
    alt: str
    png: bytes

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


Block = Heading | Para | Bullets | Table | Image


def md_text(text: str) -> str:
    """Text as Markdown shows it: ``<`` and ``>`` outside code spans become entities, so that
    ``work/review/<day>/`` is not swallowed as an HTML tag by the Dagster UI (code spans show
    them as they are)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(
        part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;")
        for part in parts
    )


def _md_cell(text: str, code: bool) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    if code and text:
        return "`" + text.replace("`", "'") + "`"
    return md_text(text)


def to_markdown(blocks: list[Block], image_src: Callable[[Image], str] = Image.data_uri) -> str:
    """Markdown; images point at ``image_src(image)`` (default: an inline data URI, which the
    Dagster UI renders; pass the file name for a ``report.md`` written next to the PNGs)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + md_text(b.text), ""]
        elif isinstance(b, Para):
            out += [md_text(b.text), ""]
        elif isinstance(b, Bullets):
            out += [*(f"- {md_text(i)}" for i in b.items), ""] if b.items else []
        elif isinstance(b, Table):
            out.append("| " + " | ".join(md_text(c) for c in b.columns) + " |")
            out.append("|" + "---|" * len(b.columns))
            for r in b.rows:
                cells = [_md_cell(c, i in b.code_columns) for i, c in enumerate(r)]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        else:
            out += [f"![{b.alt}]({image_src(b)})", ""]
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;
padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
code{font-size:12px;background:#f7f7f7;white-space:pre-wrap}img{max-width:100%}"""


def _inline(text: str) -> str:
    """``**bold**``, ``*em*``, ```code``` and ``[text](relative-or-http-link)`` of our own
    strings, after escaping."""
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))
    t = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    # Links: http(s) or a relative path (no other scheme: a colon-free target).
    link = r"\[([^\]]+)\]\((https?://[^)\s]+|[\w.-][\w./#-]*)\)"
    return re.sub(link, r'<a href="\2">\1</a>', t)


def to_html(blocks: list[Block], title: str | None = None) -> str:
    """A standalone HTML page (inline CSS, plots embedded as data URIs); the title defaults to
    the first heading."""
    if title is None:
        title = next((b.text for b in blocks if isinstance(b, Heading)), "docasset report")
    out = [
        "<!doctype html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f"<style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            if b.items:
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in b.columns)
            body = "".join(
                "<tr>"
                + "".join(
                    f"<td><code>{html.escape(c)}</code></td>"
                    if i in b.code_columns and c
                    else f"<td>{html.escape(c)}</td>"
                    for i, c in enumerate(r)
                )
                + "</tr>"
                for r in b.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            out.append(f'<p><img alt="{html.escape(b.alt)}" src="{b.data_uri()}"></p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)


def md_table(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` restricted to ``columns`` (Dagster metadata)."""
    block = Table(list(columns), [[_cell(r.get(c)) for c in columns] for r in rows])
    return to_markdown([block]).rstrip("\n")
