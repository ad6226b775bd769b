"""The playbook learns from the team's own calls (issue 24): estimates with uncertainty per context and
arm, and a choice that explores safely among what the rules allow.

Generic over "arms" and "contexts": an arm is an opening style, a product code or an answer's variant
line; a context is a client segment (or an objection and a segment). The rules and the compliance module
decide what is allowed; learning only orders what is allowed.
"""

from bot.learning.bandit import Choice, Control, Labels, choose
from bot.learning.estimates import (
    HALF_LIFE_DAYS,
    MIN_CALLS,
    Evidence,
    Outcome,
    Posterior,
    evidence,
    posterior,
    posteriors,
)

__all__ = [
    "HALF_LIFE_DAYS", "MIN_CALLS", "Choice", "Control", "Evidence", "Labels", "Outcome", "Posterior", "choose",
    "evidence", "posterior", "posteriors",
]
