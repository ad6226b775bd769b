"""The JSON API of contract section 7 (same access rules as the pages): one blueprint, its routes
by area. The queries behind them live in the core (bot/queries.py, bot/analytics.py,
bot/csv_export.py), testable without Sanic."""

import bot.web.api.book  # noqa: F401 - assignment, the unassigned pool, the change log (issue 21)
import bot.web.api.call_list  # noqa: F401 - the agent's daily call list, 工作台 (issue 21)
import bot.web.api.floor  # noqa: F401 - the floor's candidate training lines, for supervisors (issue 22)
import bot.web.api.imports  # noqa: F401 - client sheets and the opt-out register, for supervisors (issue 21)
import bot.web.api.learning  # noqa: F401 - 话术效果: opening styles per segment and their controls (issue 24)
import bot.web.api.practice  # noqa: F401 - the supervisor's 做成陪练场景 (issue 20)
import bot.web.api.team  # noqa: F401 - the team's accounts and the products, for supervisors (issue 21)
from bot.web.api import calls, clients, complaints, disputes, reports  # noqa: F401 - importing them adds their routes
from bot.web.api.common import api

__all__ = ["api"]
