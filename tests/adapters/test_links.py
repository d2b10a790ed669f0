"""Links in plain text and their UTF-8 offsets."""

from __future__ import annotations

from adapters.links import find_links, utf8_span


def test_find_links() -> None:
    text = (
        "see https://example.com/a_(b) and (https://x.example/p). Also bsky.app, "
        "mail kim@example.com, file.txt, e.g. http://"
    )
    found = [(text[link.start : link.end], link.url) for link in find_links(text)]
    assert found == [
        ("https://example.com/a_(b)", "https://example.com/a_(b)"),
        ("https://x.example/p", "https://x.example/p"),
        ("bsky.app", "https://bsky.app"),
    ]


def test_utf8_span() -> None:
    text = "日本 👩‍👩‍👧 @kim"
    start = text.index("@kim")
    byte_start, byte_end = utf8_span(text, start, start + 4)
    assert text.encode()[byte_start:byte_end] == b"@kim"
    assert byte_start == len("日本 👩‍👩‍👧 ".encode())
