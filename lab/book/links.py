"""Links and anchors of the book: a notebook's links made to work from its page, then from the
single revision book, where nine notebooks' "Setup" headings must not collide.

Links to another site are left alone. Not for rendering (pages.py).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

CONTENTS_LINK = "../README.md#notebooks"  # the "Contents" link of lab/book/navigation.py
NOTEBOOK_NAME = re.compile(r"\d\d-[\w-]+\.ipynb")
HREF = re.compile(r'href="([^"]*)"')


def page_links(page: str, notebooks: Path, book: Path) -> str:
    """A notebook's page with its links working from the book's folder: another notebook becomes
    its page, the contents the index, and a file or picture of the repository a path from here."""

    def rewrite(href: str) -> str:
        url = urlsplit(href)
        if url.scheme or url.netloc or not url.path:  # another site, or a place on this page
            return href
        if href == CONTENTS_LINK:
            return "index.html"
        fragment = f"#{url.fragment}" if url.fragment else ""
        if NOTEBOOK_NAME.fullmatch(url.path):
            return f"{PurePosixPath(url.path).stem}.html{fragment}"
        target = os.path.relpath((notebooks / unquote(url.path)).resolve(), book)
        return quote(Path(target).as_posix()) + fragment

    return _rewrite(page, "href|src", rewrite)


def chapter_links(main: str, stem: str, stems: set[str]) -> str:
    """A page's cells as a chapter of the revision book: its anchors prefixed with `stem`, and
    links to pages in `stems` turned into links to those chapters."""
    # Only the anchors a link can reach (headings, and ids this page links to) are renamed: other
    # ids may be styled by the output that carries them (pandas' Styler does that).
    targets = set(re.findall(r'<h[1-6][^>]*\sid="([^"]+)"', main))
    targets |= {href[1:] for href in HREF.findall(main) if href.startswith("#")}
    main = re.sub(
        r'(?<=\s)id="([^"]+)"',
        lambda m: f'id="{stem}--{m[1]}"' if m[1] in targets else m[0],
        main,
    )

    def rewrite(href: str) -> str:
        url = urlsplit(href)
        if url.scheme or url.netloc:
            return href
        if not url.path:
            return f"#{stem}--{url.fragment}" if url.fragment else href
        if url.path == "index.html":
            return "#contents"
        target = PurePosixPath(url.path).stem
        if url.path.endswith(".html") and target in stems:
            return f"#{target}--{url.fragment}" if url.fragment else f"#{target}"
        return href

    return _rewrite(main, "href", rewrite)


def broken_anchors(page: str) -> list[str]:
    """The links to a place in `page` (href="#...") that no element of it has as its id."""
    # Compared as the browser reads them: href="#a&#x27;b" lands on id="a'b".
    ids = {html.unescape(i) for i in re.findall(r'(?<=\s)id="([^"]+)"', page)}
    hrefs = {html.unescape(h) for h in HREF.findall(page) if h.startswith("#")}
    return sorted(h for h in hrefs if h[1:] not in ids)


def _rewrite(page: str, attributes: str, rewrite: Callable[[str], str]) -> str:
    """`page` with the value of every one of `attributes` ("href|src") rewritten."""

    def replace(match: re.Match[str]) -> str:
        return f'{match[1]}="{html.escape(rewrite(html.unescape(match[2])), quote=True)}"'

    return re.sub(rf'(?<=\s)({attributes})="([^"]*)"', replace, page)
