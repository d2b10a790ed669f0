"""Issue 10, finding 3: `switchboard serve` in Socket Mode with an app token Slack rejects
ends at start with one line naming ``slack.app_token`` and exit code 2, instead of retrying
for ever with tracebacks while /readyz says ready and SIGTERM kills it with 143."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.boards import free_port
from tests.scenario.test_serve_signals import readyz, serving, write_config
from tests.slack.fake_slack import FakeSlack


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type"])
async def test_a_rejected_app_token_ends_serve_with_one_line_naming_it(
    tmp_path: Path, error: str
) -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        fake.fail("apps.connections.open", error, times=1_000)
        port = free_port()
        path = write_config(tmp_path, f"sqlite:///{tmp_path}/s.db", "127.0.0.1", port)
        config = yaml.safe_load(path.read_text())
        config["slack"] = {**fake.settings(), "app_token": "xapp-1-A0APP-1-rejected"}
        path.write_text(yaml.safe_dump(config))
        async with serving(path) as serve:
            code = await serve.end(within=30)
        assert code == 2, "\n".join(serve.lines)
        assert await readyz(port) == 0, "nothing is left serving"
        last = serve.lines[-1]
        assert "slack.app_token" in last and error in last and "xapp-" in last, last
        assert not serve.said("Traceback"), "\n".join(serve.lines)
        assert len(fake.calls("apps.connections.open")) == 1, "asked once, no reconnect loop"
    finally:
        await fake.close()
