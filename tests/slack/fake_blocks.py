"""Block Kit limits as the Slack Web API enforces them, for the fake (``invalid_blocks``).

``block_errors(blocks)`` returns Slack-style messages such as
``"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``; empty when valid.
"""

from __future__ import annotations

from typing import Any

ELEMENT_TYPES = (
    "button",
    "overflow",
    "static_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "external_select",
    "plain_text_input",
    "datepicker",
    "checkboxes",
    "radio_buttons",
    "image",
)


class _Check:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{where}]")

    def length(self, value: Any, limit: int, where: str, *, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(where, "must provide a value")
            return
        if not isinstance(value, str):
            self.fail(where, "must be a string")
        elif len(value) > limit:
            self.fail(where, f"must be less than {limit + 1} characters")
        elif required and not value:
            self.fail(where, "must be more than 0 characters")

    def text(self, obj: Any, limit: int, where: str, *, plain: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(where, "must be a text object")
            return
        kind = obj.get("type")
        if kind not in ("plain_text", "mrkdwn") or (plain and kind != "plain_text"):
            self.fail(f"{where}/type", "must be plain_text" if plain else "must be a text type")
        self.length(obj.get("text"), limit, f"{where}/text", required=True)

    def option(self, obj: Any, where: str, *, url: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(where, "must be an option object")
            return
        self.text(obj.get("text"), 75, f"{where}/text", plain=True)
        self.length(obj.get("value"), 150, f"{where}/value", required=True)
        if "description" in obj:
            self.text(obj["description"], 75, f"{where}/description", plain=True)
        if "url" in obj:
            if not url:
                self.fail(f"{where}/url", "is not allowed here")
            self.length(obj["url"], 3000, f"{where}/url")

    def element(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ELEMENT_TYPES:
            self.fail(where, "must be a valid element")
            return
        kind = obj["type"]
        if "action_id" in obj:
            self.length(obj["action_id"], 255, f"{where}/action_id", required=True)
        if kind == "button":
            self.text(obj.get("text"), 75, f"{where}/text", plain=True)
            self.length(obj.get("value"), 2000, f"{where}/value")
            self.length(obj.get("url"), 3000, f"{where}/url")
            if obj.get("style") not in (None, "primary", "danger"):
                self.fail(f"{where}/style", "must be primary or danger")
        elif kind == "overflow":
            options = obj.get("options")
            if not isinstance(options, list) or not 1 <= len(options) <= 5:
                self.fail(f"{where}/options", "must provide between 1 and 5 items")
                return
            for i, option in enumerate(options):
                self.option(option, f"{where}/options/{i}", url=True)
        elif kind == "static_select":
            if "placeholder" in obj:
                self.text(obj["placeholder"], 150, f"{where}/placeholder", plain=True)
            options = obj.get("options", [])
            if not isinstance(options, list) or len(options) > 100:
                self.fail(f"{where}/options", "must provide no more than 100 items")
                return
            for i, option in enumerate(options):
                self.option(option, f"{where}/options/{i}")

    def block(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            self.fail(where, "must be a block object")
            return
        self.length(obj.get("block_id"), 255, f"{where}/block_id")
        kind = obj.get("type")
        if kind == "header":
            self.text(obj.get("text"), 150, f"{where}/text", plain=True)
        elif kind == "section":
            if "text" not in obj and "fields" not in obj:
                self.fail(where, "must provide text or fields")
            if "text" in obj:
                self.text(obj["text"], 3000, f"{where}/text")
            fields = obj.get("fields", [])
            if len(fields) > 10:
                self.fail(f"{where}/fields", "must provide no more than 10 items")
            for i, item in enumerate(fields):
                self.text(item, 2000, f"{where}/fields/{i}")
            if "accessory" in obj:
                self.element(obj["accessory"], f"{where}/accessory")
        elif kind == "context":
            elements = obj.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                self.fail(f"{where}/elements", "must provide between 1 and 10 items")
                return
            for i, item in enumerate(elements):
                if isinstance(item, dict) and item.get("type") == "image":
                    continue
                self.text(item, 3000, f"{where}/elements/{i}")
        elif kind == "actions":
            elements = obj.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                self.fail(f"{where}/elements", "must provide between 1 and 25 items")
                return
            ids = [e.get("action_id") for e in elements if isinstance(e, dict)]
            if len([i for i in ids if i]) != len({i for i in ids if i}):
                self.fail(f"{where}/elements", "action_id values must be unique")
            for i, item in enumerate(elements):
                self.element(item, f"{where}/elements/{i}")
        elif kind == "input":
            self.text(obj.get("label"), 2000, f"{where}/label", plain=True)
            self.element(obj.get("element"), f"{where}/element")
            if "hint" in obj:
                self.text(obj["hint"], 2000, f"{where}/hint", plain=True)
        elif kind not in ("divider", "rich_text", "image"):
            self.fail(f"{where}/type", "must be a valid block type")


def block_errors(blocks: Any, *, limit: int = 50) -> list[str]:
    check = _Check()
    if not isinstance(blocks, list):
        check.fail("/blocks", "must be an array")
        return check.errors
    if len(blocks) > limit:
        check.fail("/blocks", f"must provide no more than {limit} items")
    for i, block in enumerate(blocks):
        check.block(block, f"/blocks/{i}")
    return check.errors
