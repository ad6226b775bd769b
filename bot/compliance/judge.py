"""The compliance judge: the rules (promises.yml: kernels with negation scope) first, then, when asked
(``learned=True``), the trained model (classifier.py) for the sentences no rule caught.

The model is not yet the default: on the held-out set it lifts recall from 0.59 to 0.91 at about the
same precision, but it still takes some honest generated lines ("基金定投卖点1/3：每月一百元起投") and
rehearsal lines for promises; until those are gone, the playbook, live guidance and rehearsal scoring
use the rules alone (docs/compliance.md)."""

from __future__ import annotations

from bot.compliance import classifier
from bot.compliance.promises import Finding, category_of, prepare, rule_findings, rules

SIMILAR = "（与已知的违规说法相似）"


def findings(text: str, product: object = None, *, learned: bool = False) -> list[Finding]:
    """The forbidden promises in ``text``, in reading order.

    ``product``: the product the line is about (a category such as ``"wealth"``, or anything with a
    ``category``); None when unknown, which is judged as strictly as a non-deposit product."""
    found = rule_findings(text, product)
    prepared = prepare(text)
    if not prepared or not learned:
        return found
    category = category_of(product)
    by_kind = {rule.kind: rule for rule in reversed(rules().rules)}
    for judged in classifier.judged(prepared):
        end = judged.start + len(judged.sentence)
        if any(judged.start <= f.start < end for f in found):
            continue  # the rules already said what is wrong with this sentence
        rule = by_kind.get(judged.kind)
        if rule is None or category in rule.skip_for:
            continue  # e.g. "跟存款一样" said of a deposit
        found.append(Finding(judged.kind, judged.sentence, rule.reason + SIMILAR, judged.start))
    return sorted(found, key=lambda f: (f.start, -len(f.phrase)))
