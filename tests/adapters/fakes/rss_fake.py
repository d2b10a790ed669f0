"""A loopback feed server: serves RSS/Atom documents with ETag and Last-Modified, answering
conditional requests (``If-None-Match``, ``If-Modified-Since``) with 304 Not Modified."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from tests.adapters.fakes import FakeServer


class RssFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, tuple[bytes, str, datetime]] = {}
        self.use_etag = True
        self.use_last_modified = True
        self.chunked = False
        self.not_modified = 0
        """How many 304 Not Modified answers were sent."""
        self.app.router.add_get("/{path:.*}", self._serve)

    def publish(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/atom+xml",
        modified: datetime | None = None,
    ) -> str:
        """Serve ``body`` at ``path`` from now on; returns the feed's URL."""
        data = body.encode() if isinstance(body, str) else body
        when = (modified or datetime.now(UTC)).replace(microsecond=0)
        self.feeds[path] = (data, content_type, when)
        return f"{self.url}{path}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds.get(request.path)
        if feed is None:
            return web.Response(
                status=404, text="<html><body>Not Found</body></html>", content_type="text/html"
            )
        body, content_type, modified = feed
        headers: dict[str, str] = {}
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if self.use_etag:
            headers["ETag"] = etag
        if self.use_last_modified:
            headers["Last-Modified"] = format_datetime(modified, usegmt=True)
        match = request.headers.get("If-None-Match")
        since = request.headers.get("If-Modified-Since")
        if self.use_etag and match is not None:
            if etag in [tag.strip() for tag in match.split(",")]:
                self.not_modified += 1
                return web.Response(status=304, headers=headers)
        elif self.use_last_modified and since and parsedate_to_datetime(since) >= modified:
            self.not_modified += 1
            return web.Response(status=304, headers=headers)
        if not self.chunked:
            return web.Response(body=body, content_type=content_type, headers=headers)
        response = web.StreamResponse(headers={**headers, "Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 4096):
            await response.write(body[start : start + 4096])
        await response.write_eof()
        return response


def atom(entries: list[dict[str, Any]], title: str = "Google Alert - acme") -> str:
    """A small Atom feed; each entry has ``id``, ``title`` and optionally ``link``,
    ``content`` (HTML), ``published`` (ISO 8601) and ``author``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>tag:example.com,2024:feed</id><title>{escape(title)}</title>",
        "<updated>2024-05-01T10:00:00Z</updated>",
    ]
    for entry in entries:
        parts.append("<entry>")
        if "id" in entry:
            parts.append(f"<id>{escape(entry['id'])}</id>")
        parts.append(f'<title type="html">{escape(entry.get("title", ""))}</title>')
        if "link" in entry:
            parts.append(f"<link href={quoteattr(entry['link'])}/>")
        if "published" in entry:
            parts.append(f"<published>{entry['published']}</published>")
        if "content" in entry:
            parts.append(f'<content type="html">{escape(entry["content"])}</content>')
        parts.append(f"<author><name>{escape(entry.get('author', ''))}</name></author>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts)
