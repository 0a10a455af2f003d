"""HTML building blocks of a report: one page frame with inline CSS, tables, players. No JavaScript.

Everything a page shows goes through :func:`esc`; links to files are relative paths, URL-quoted.
"""
from __future__ import annotations

import html
import math
import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["audio", "esc", "fmt", "img", "link", "page", "rel", "table"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.strip{display:flex;gap:4px;overflow-x:auto}.strip figure{margin:0;font-size:11px;text-align:center}
.strip img{height:90px;display:block}.shot{border:1px solid #ddd;padding:.6em 1em;margin:1em 0;border-radius:4px}
.stem{display:flex;align-items:center;gap:1em;margin:.2em 0}.stem img{width:540px}.muted{color:#777}
.paper td:first-child{font-weight:600;white-space:nowrap}audio{width:300px}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value, digits: int = 1, unit: str = "") -> str:
    """A number for a table: ``None`` and non-finite values as an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "\u2014"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}{unit}"
    return esc(value)


def rel(target: str | os.PathLike, page_dir: str | os.PathLike) -> str:
    """URL of ``target`` relative to the folder of the page (both resolved), quoted for an attribute."""
    path = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(path).as_posix())


def img(src: str, alt: str, **attrs) -> str:
    extra = "".join(f' {k}="{esc(v)}"' for k, v in attrs.items())
    return f'<img src="{src}" alt="{esc(alt)}"{extra}>'


def audio(src: str) -> str:
    return f'<audio controls preload="metadata" src="{src}"></audio>'


def link(href: str, text) -> str:
    return f'<a href="{href}">{esc(text)}</a>'


def table(header: list[str], rows: list[list[str]], *, cls: str = "") -> str:
    """A table of already-escaped cells (use :func:`esc` / :func:`fmt` on the values)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n')
