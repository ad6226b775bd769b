"""The JSON API of contract section 7 (same access rules as the pages): one blueprint, its routes
by area. The queries behind them live in the core (bot/queries.py, bot/analytics.py,
bot/csv_export.py), testable without Sanic."""

import bot.web.api.practice  # noqa: F401 - the supervisor's 做成陪练场景 (issue 20)
from bot.web.api import calls, clients, complaints, disputes, reports  # noqa: F401 - importing them adds their routes
from bot.web.api.common import api

__all__ = ["api"]
