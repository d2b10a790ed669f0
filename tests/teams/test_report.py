"""``@Switchboard report`` in a department's Teams channel answers with that department's
figures, as plain text, through the same desk verb as Slack and the shell."""

from __future__ import annotations

from pathlib import Path

from bot.store import Store
from tests.teams.fakes import ConnectorFake
from tests.teams.world import BOB, SUPPORT, message, world


async def test_report_in_a_channel(store: Store, connector: ConnectorFake, tmp_path: Path) -> None:
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "the app is down again")
        await w.mention(2, "still down")
        await w.post(message("claim", SUPPORT, w.service_url, user=BOB))
        await w.post(message("report 7d", SUPPORT, w.service_url, user=BOB))

        said = [a for a in w.connector.activities.values() if a.get("text")]
        [answer] = [a for a in said if a["text"].startswith("Threads received from")]
        assert answer["textFormat"] == "plain"
        assert "support: 2 received · 1 claimed" in answer["text"]
        assert "You: 1 claimed" in answer["text"]
        assert "billing:" not in answer["text"]
