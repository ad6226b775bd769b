"""Compliance: the one judge of what a sales line may say (issue 19).

Everything that produces or judges a line asks ``findings``: the playbook's start-up check, the live
guidance, the rehearsal's scoring and its simulated customer. Rules are data (promises.yml); what they
do not catch, a model trained on the labelled sentences (labelled/*.yml, classifier.py) does; see
docs/compliance.md.
"""

from __future__ import annotations

from bot.compliance.judge import REHEARSAL_LEARNED, findings
from bot.compliance.promises import Finding, prepare, rule_findings, rules

# Kinds that promise something about the product (the rest are conduct: pressure, disparaging).
PROMISE_KINDS = frozenset({
    "guarantee_principal", "guarantee_return", "deposit_like", "no_risk", "approval_promise",
    "benchmark_as_return",
})
CONDUCT_KINDS = frozenset({"pressure", "disparage"})


def promises(text: str, product: object = None, *, learned: bool = True) -> list[Finding]:
    """The findings that promise something about the product (not pressure or disparaging)."""
    return [f for f in findings(text, product, learned=learned) if f.kind in PROMISE_KINDS]


__all__ = ["CONDUCT_KINDS", "PROMISE_KINDS", "REHEARSAL_LEARNED", "Finding", "findings", "prepare", "promises",
           "rule_findings", "rules"]
