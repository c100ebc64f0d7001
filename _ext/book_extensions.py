"""Sphinx extensions of the book (loaded through ``sphinx.local_extensions`` in _config.yml).

* ``bookstyle``: a pybtex style whose bibliography labels are author-year ("Kingma and
  Welling, 2014", "Goodfellow et al., 2014"), matching the author-year citations in the
  text, and whose arXiv identifiers (the ``eprint`` field) are links.
* The execution-statistics table (``{nb-exec-table}``) lists the chapters in reading order,
  with a last row giving the whole book's execution time.
"""

from __future__ import annotations

import re

import pybtex.plugin
from docutils import nodes
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform


def _surname(person) -> str:
    text = " ".join(person.prelast_names + person.last_names)
    text = re.sub(r"[{}]", "", text)
    return text.replace("\\c c", "ç").replace("\\'e", "é").replace('\\"u', "ü").replace('\\"o', "ö")


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Surname, year", "Surname and Surname, year", "Surname et al., year";
    a letter is appended when two entries would get the same label."""

    def format_labels(self, sorted_entries):
        labels = []
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_surname(p) for p in people]
            if not names:
                who = entry.fields.get("key", entry.key)
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            labels.append(f"{who}, {entry.fields.get('year', 'n.d.')}")
        seen: dict[str, int] = {}
        for label in labels:
            seen[label] = seen.get(label, 0) + 1
        suffix: dict[str, int] = {}
        for label in labels:
            if seen[label] > 1:
                suffix[label] = suffix.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[suffix[label] - 1]
            else:
                yield label


class BookStyle(UnsrtStyle):
    """unsrt with author-year labels, sorted by author and year."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


pybtex.plugin.register_plugin("pybtex.style.formatting", "bookstyle", BookStyle)


def _toc_order(env) -> list[str]:
    """Every document reachable from the root's table of contents, in reading order."""
    order: list[str] = []

    def visit(doc: str) -> None:
        if doc in order:
            return
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            visit(child)

    visit(env.config.root_doc)
    return order


class ReadingOrderExecTable(SphinxPostTransform):
    """Sort the rows of myst-nb's execution table by reading order and add a total row.

    Runs after myst-nb's own post-transform (priority 8) and before references are
    resolved (priority 10)."""

    default_priority = 9

    def run(self, **kwargs) -> None:
        order = _toc_order(self.env)
        rank = {doc: i for i, doc in enumerate(order)}
        for table in self.document.findall(nodes.table):
            head = [e.astext() for e in next(table.findall(nodes.thead)).findall(nodes.entry)] if list(
                table.findall(nodes.thead)) else []
            if head[:1] != ["Document"] or "Run Time (s)" not in head:
                continue
            tbody = next(table.findall(nodes.tbody))
            rows = list(tbody.children)

            def key(row):
                target = next(row.findall(nodes.inline)).astext()
                return rank.get(target, len(rank)), target

            rows.sort(key=key)
            tbody.children = []
            total = 0.0
            col = head.index("Run Time (s)")
            for row in rows:
                tbody += row
                cell = row.children[col].astext()
                if cell not in ("", "-"):
                    total += float(cell)
            summary = nodes.row()
            for i in range(len(head)):
                text = "whole book" if i == 0 else (f"{total:.1f}" if i == col else "")
                summary += nodes.entry("", nodes.paragraph("", "", nodes.strong(text, text)))
            tbody += summary


def setup(app: Sphinx) -> dict:
    app.add_post_transform(ReadingOrderExecTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
