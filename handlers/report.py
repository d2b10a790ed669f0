"""``report [department ...] [7d]``: the first-response and SLA figures of a period, for the
departments asked for — else the channel's department, else those whose rota lists the
person, else all."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.config import Department
from bot.errors import SwitchboardError
from bot.interaction import Interaction, Response
from bot.report import Reports
from bot.report.render import summary
from bot.report.service import policy_table
from handlers.base import Context

PERIOD = re.compile(r"^(\d{1,4})([hdw])$")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}
DEFAULT = timedelta(days=7)


def _listed(department: Department, names: set[str]) -> bool:
    return any(p.lower() in names for p in department.sla_policy.rota.people)


async def report(ctx: Context, interaction: Interaction) -> Response:
    period, asked = DEFAULT, []
    for word in interaction.text.split():
        match = PERIOD.match(word.lower())
        if match:
            period = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        else:
            asked.append(ctx.threads.directory.get(word).name)
    if period <= timedelta(0):
        raise SwitchboardError("Give a period such as 24h, 7d or 4w.")
    actor = interaction.actor
    names = {n.lower() for n in (actor.id, actor.name, actor.label) if n}
    everyone = list(ctx.threads.directory)
    chosen = (
        asked
        or ([interaction.channel_department] if interaction.channel_department else [])
        or [d.name for d in everyone if _listed(d, names)]
        or [d.name for d in everyone]
    )
    policies = policy_table(d.sla_policy for d in everyone)
    now = ctx.threads.clock()
    until = now + timedelta(microseconds=1)  # what happened at this very instant counts too
    built = await Reports(ctx.threads.store, policies).build(now - period, until, chosen)
    return Response(summary(built, actor.key))
