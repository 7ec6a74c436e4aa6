"""A human-readable page of both OpenAPI documents (public API and control API), made from them."""

from __future__ import annotations

import html
from typing import Any

from mockmj.web.spec import HTTP_METHODS


def _operations(document: dict[str, Any]) -> str:
    rows = []
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if not op:
                continue
            text = html.escape((op.get("description") or "").strip()).replace("\n\n", "<br><br>")
            rows.append(
                f"<section><h3><code>{method.upper()} {html.escape(path)}</code> "
                f"<small>{html.escape(op.get('operationId', ''))}</small></h3>"
                f"<p><b>{html.escape(op.get('summary', ''))}</b></p><p>{text}</p></section>"
            )
    return "\n".join(rows)


def docs_html(public: dict[str, Any], control: dict[str, Any], dialect: str, timing: str) -> str:
    """The page for the two OpenAPI documents, and the dialect and timing profile the mock runs with."""
    info = public.get("info", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(info.get('title', 'mockmj'))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}
section{{border-top:1px solid #ddd;padding:.4rem 0}} code{{background:#f4f4f4;padding:0 .25rem}}
small{{color:#777;font-weight:normal}}</style></head><body>
<h1>{html.escape(info.get('title', 'mockmj'))}</h1>
<p>Dialect: <b>{html.escape(dialect)}</b> ·
timing: <b>{html.escape(timing)}</b> · machine-readable:
<a href="/openapi.yaml">/openapi.yaml</a>, <a href="/_mockmj/openapi.yaml">/_mockmj/openapi.yaml</a> ·
<a href="/_mockmj/ui">dashboard</a></p>
<h2>Public API</h2>
{_operations(public)}
<h2>Control API (tests only)</h2>
{_operations(control)}
</body></html>"""
