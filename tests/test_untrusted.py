"""The one policy for hostile public text: hidden characters and links."""

from __future__ import annotations

import time

import pytest

from bot.untrusted import HIDDEN, has_hidden, neutralize, safe_url

SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("invoice_\u202egnp.exe", "invoice_gnp.exe"),
        ("\u2066admin\u2069 \u2067x\u2068y", "admin xy"),
        ("a\u200eb\u200fc\u061cd", "abcd"),
        ("\x1b[31mred\x1b[0m\x07", "[31mred[0m"),
        ("nul\x00 del\x7f c1\x85\x9b", "nul del c1"),
        ("@chan\u200bnel @here\u2060 \ufeffbom", "@channel @here bom"),
        ("pay\u200dpal pay\u200cpal", "paypal paypal"),
        ("blank\u3164name\uffa0", "blankname"),
        ("hi\U000e0049\U000e0047\U000e004e\U000e004f\U000e0052\U000e0045", "hi"),
        ("line\r\nbreaks\rkept\n\ttab", "line\nbreaks\nkept\n\ttab"),
    ],
)
def test_hidden_characters_are_removed(text: str, shown: str) -> None:
    assert neutralize(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "family 👨\u200d👩\u200d👧 coder 🧑🏽\u200d💻 pride 🏳️\u200d🌈",
        f"flag {SCOTLAND} of Scotland",
        "क्\u200dष half-form",
        "می\u200cخواهم",
        "café e\u0301 ︎text\ufe0e",
        "soft\u00adhyphen, tab\tand\nnewline",
    ],
)
def test_emoji_sequences_and_script_joiners_are_kept(text: str) -> None:
    assert neutralize(text) == text
    assert not has_hidden(text)


def test_a_stray_tag_or_cancel_tag_outside_a_flag_is_removed() -> None:
    assert neutralize(f"🏴\U000e0067\U000e0062 {SCOTLAND}\U000e007f") == f"🏴 {SCOTLAND}"


def test_a_long_hostile_run_is_cleaned_in_linear_time() -> None:
    """Ten times the input costs about ten times the work, not a hundred (compared with
    itself in the same run, so a slow machine does not matter)."""

    def cost(n: int) -> float:
        started = time.perf_counter()
        assert neutralize("🏴" + "\U000e0041" * n + "\U000e007f") == "🏴"
        assert neutralize("a\u200d" * n) == "a" * n
        return time.perf_counter() - started

    small = min(cost(10_000) for _ in range(3))
    large = min(cost(100_000) for _ in range(3))
    assert large < 40 * small, (small, large)


def test_neutralize_can_make_hidden_characters_visible() -> None:
    assert neutralize("a\u202eb\x1bc", "\ufffd") == "a\ufffdb\ufffdc"
    assert HIDDEN.sub("\ufffd", "a\u200bb") == "a\ufffdb"


@pytest.mark.parametrize(
    "url",
    [
        "https://social.example/@ann/1",
        "http://example.org/x?y=1#z",
        "HTTPS://Example.org/Path",
        "https://bаnk.example/",
        "http://127.0.0.1:8080/feed",
        "  https://example.org/padded  ",
    ],
)
def test_plain_http_urls_are_safe(url: str) -> None:
    assert safe_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "ftp://files.example/x",
        "slack://open",
        "//evil.example/path",
        "/relative/path",
        "https://",
        "https:///path-only",
        "https://user@evil.example/",
        "https://bank.example@evil.example/login",
        "https://user:pw@evil.example/",
        "https://bank.example\\@evil.example/",
        "https://evil.example/a b",
        "https://evil.example/\u202etxt.exe",
        "https://evil.example/\x00",
        "https://evil.example/\nx",
        "https://ev\u200bil.example/",
        "https://evil.example:99999/",
        "https://evil.example:port/",
        "http://[oops/",
        "https://evil.example/" + "a" * 5000,
        "",
    ],
)
def test_hostile_urls_are_refused(url: str) -> None:
    assert safe_url(url) == ""
