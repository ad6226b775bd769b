"""Text cues: what a trainee line does (says who calls, names a time, sells, asks, promises ...).

Shared by the scoring (bot/rehearsal/scoring.py) and the simulated customer (roleplay.py), so both
read a line the same way. Lines are normalised (Simplified, half-width, upper case) before they get
here. ``CHECKS`` names the predicates the rubric (rubric.yml) may use as cues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.compliance import REHEARSAL_LEARNED
from bot.compliance import promises as promises_in
from bot.text import normalize
from bot.timeparse import TIME_MENTION_RE, spoken_int

_END = r"。！!？?；;…"

# Percentages said in words or figures ("百分之八", "百分之二点八到三点二", "3.5%"): a rate, a
# cash-back or a benchmark a trainee states, checked against the product's own facts (lexical: a number).
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN = r"[零〇一二两三四五六七八九十百]+(?:点[零〇一二三四五六七八九]+)?"
_FIG = r"[0-9]+(?:\.[0-9]+)?"
# The second end of a range is a percentage, not the next number said ("百分之三到十二月底").
_NOT_UNIT = r"(?![0-9零〇一二两三四五六七八九十百]|[个月年日号天万元块点])"
_PERCENT_RE = re.compile(rf"百分之({_CN}|{_FIG})(?:\s*(?:到|至|-|~|—)\s*(?:百分之)?({_CN}|{_FIG}){_NOT_UNIT})?"
                         rf"|({_FIG})\s*%?\s*(?:到|至|-|~|—)\s*({_FIG})\s*%|({_FIG})\s*%")
# Only a rate is judged: the percentage's own clause names one before it or right after it
# ("返现最高百分之八", "百分之五的收益"); 首付百分之三十 or 百分之九十的客户 are not a product's rate.
_RATE_WORD_RE = re.compile(r"返现|返还|年化|利率|利息|收益|基准|回报|费率|手续费|分红|优惠")
_CLAUSE_RE = re.compile(r"[，,。！!？?；;：:\n]")


def _spoken(number: str) -> list[float]:
    """二十五 / 三点二 / 3.5 / 一百二十 as numbers; 二三 ("two or three") as both; [] if malformed."""
    if re.fullmatch(_FIG, number):
        return [float(number)]
    whole, _, decimals = number.partition("点")
    if len(whole) == 2 and not decimals and _CN_DIGIT.get(whole[1], -1) == _CN_DIGIT.get(whole[0], -9) + 1:
        return [float(_CN_DIGIT[whole[0]]), float(_CN_DIGIT[whole[1]])]  # 百分之二三: two or three
    value = spoken_int(whole)
    if value is None or any(c not in _CN_DIGIT for c in decimals):
        return []
    return [value + (float("0." + "".join(str(_CN_DIGIT[c]) for c in decimals)) if decimals else 0.0)]


def _figures(text: str, *, rates_only: bool = False) -> list[tuple[str, list[float]]]:
    """Each percentage phrase ``text`` states, with its values (both ends of a range); ``rates_only``:
    those whose clause names a rate (``_RATE_WORD_RE``) before them or within four characters after."""
    text = normalize(text or "")
    found = []
    for match in _PERCENT_RE.finditer(text):
        if rates_only:
            clause_start = max((m.end() for m in _CLAUSE_RE.finditer(text, 0, match.start())), default=0)
            after = _CLAUSE_RE.split(text[match.end():match.end() + 4])[0]
            if not (_RATE_WORD_RE.search(text[clause_start:match.start()]) or _RATE_WORD_RE.search(after)):
                continue
        found.append((match.group(0), [v for g in match.groups() if g for v in _spoken(g)]))
    return found


def percentages(text: str) -> list[float]:
    """Every percentage ``text`` states (both ends of a range)."""
    return [v for _phrase, values in _figures(text) for v in values]


def invented_figures(line: str, facts: tuple[str, ...]) -> tuple[str, ...]:
    """The rates ``line`` states above every percentage the product's facts state (返现百分之八 where
    the facts say 最高百分之三), by their words; a product whose facts state none is not judged, nor
    is 100 % or more (a refund, a share of clients: not a rate)."""
    known = [v for fact in facts for v in percentages(fact)]
    if not known:
        return ()
    return tuple(phrase for phrase, values in _figures(line, rates_only=True)
                 if any(max(known) + 1e-9 < v < 100 for v in values))


# A time to call again or to meet: the one recogniser, in bot/timeparse.py.
TIME_RE = TIME_MENTION_RE
IDENTITY_RE = re.compile(r"我(?:是|叫|姓)([^，,。！!？?；;：:]{0,20})")
AGENT_WORD_RE = re.compile(r"客户经理|理财经理|坐席|工号|专员|顾问")
PURPOSE_RE = re.compile(
    r"打电话|打给您|给您打|来电|致电|来意|想(?:跟|和|给|向)您|介绍|推荐|联系您|跟您说|分享|回访|告诉您"
)
BENEFIT_CUE_RE = re.compile(
    rf"(?:好处|优势|亮点|特点|卖点|特色|适合您)(?:是|就是|在于|有|:|：|，|,|——|—)?[^{_END}]{{4,}}"
)
ENUMERATION_RE = re.compile(r"第一|第二|第三|一是|二是|三是|首先|其次|再次|再者")
BENEFIT_WORD_RE = re.compile(r"好处|优势|亮点|卖点|特点")
QUESTION_END_RE = re.compile(r"[吗呢么嘛][\s\"”'’）)~～]*$")
QUESTION_CUE_RE = re.compile(
    r"怎么样|如何|您觉得|您看|好不好|行不行|可不可以|要不要|是不是|有没有|能不能|方便吗|可以吗|好吗|行吗|对吧|哪"
)
COMPLIANCE_TAIL_RE = re.compile(r"理财非存款|产品有风险|投资[须需]谨慎|风险等级|风险提示|全程录音")
POLITE_WORDS = ("请", "谢谢", "感谢", "不好意思", "抱歉", "打扰", "麻烦您", "对不起")
RUDE_PHRASES = (
    "你懂不懂", "懂不懂", "爱买不买", "烦不烦", "不买拉倒", "别废话", "少废话", "听不懂吗", "你到底要不要",
    "你到底买不买", "随便你", "有病", "神经病", "不识好歹", "你傻", "怎么这么笨", "啰嗦什么", "跟你说了",
)
CONCRETE_STEP_RE = re.compile(
    r"办理方式|办理流程|带(?:上|好)?(?:您的)?身份证|身份证.{0,4}(?:到|去)"
    r"|手机银行.{0,12}(?:申请|办理|购买|测评|开通|搜索|下单)"
    r"|(?:到|去)(?:附近|就近)?的?(?:网点|营业厅|柜台).{0,8}(?:办理|购买|测评|开通|申请|签约|找我)"
    r"|网点办理|约(?:您|个|一个|好|定)?.{0,6}(?:时间|见面|面谈)|预约|发您.{0,6}链接"
)
CALLBACK_ACTION_RE = re.compile(r"再打|打给您|给您打|打过来|回电|回拨给您|再联系您|联系您|见面|到网点|来网点|办理|找我")
VAGUE_STEP_RE = re.compile(
    r"有需要(?:再|就|的话)?.{0,4}(?:联系|找|打)|再联系|考虑好(?:了)?.{0,4}(?:告诉|联系|找)|随时(?:联系|找|拨打|打)"
    r"|过段时间|以后再说|回头再说"
)
# Disclosure parts (compliance.yml: 理财非存款、产品有风险、投资须谨慎) and the risk level.
DISCLOSURE_PARTS = (
    ("理财非存款", re.compile(r"理财(?:产品)?(?:非|不是|不等于|不同于|并非)存款|非存款")),
    ("产品有风险", re.compile(r"(?<![没无])有风险|存在风险|亏损的可能|可能(?:会)?(?:出现)?(?:本金)?亏损|可能亏")),
    ("投资须谨慎", re.compile(r"投资[须需应要]谨慎|谨慎投资")),
)
RISK_LEVEL_RE = re.compile(r"风险等级|风险级别|R[1-5]")
NEGATION_RE = re.compile(r"不再|不会|再也不|停止|不用再|不打扰|不给您打")
PITCH_RE = re.compile(
    r"介绍|推荐|办理|了解一下|考虑|购买|买|开通|收益|利率|起购|理财|再打|回电|再联系|约|错过|名额|优惠"
)


DISPARAGING_RE = re.compile(r"不好(?!意思)|坑|垃圾|不靠谱|骗人|骗钱|差劲|太差|很差|黑心|乱收费|不正规|小银行|比不上")
# How a do-not-call ending confirms it (besides a promise to stop, NEGATION_RE).
DNC_ENDING_RE = re.compile(r"登记|勿扰|再见")
SECRETS_NEGATED_RE = re.compile(r"(?:不会|不要|不用|无需|不需要|绝不|从不|不)[^。！!？?]{0,14}(?:密码|验证码)")
# Reassurance in place of facts (the promises themselves are bot.compliance's to judge).
PROMISE_RE = re.compile(r"您就放心|放心吧|放心好了")
PRESSURE_RE = re.compile(r"借钱|借点|刷信用卡|套现|贷款买|必须|赶紧|错过就|名额有限|马上买|现在就买|就今天")
WRONG_LEVEL_RE = re.compile(r"R[1-5]")


def bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def chunks(point: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A selling point's fragments (3+ characters) with their bigrams, to recognise paraphrases."""
    parts = [p.strip() for p in re.split(r"[，,。；;、：:！!？?\s（）()]+", normalize(point))]
    found = [p for p in parts if len(p) >= 3] or ([normalize(point).strip()] if point.strip() else [])
    return tuple((c, bigrams(c)) for c in found)


@dataclass(frozen=True)
class CueContext:
    """What the cues know of the rehearsal: the bank and the product, normalised."""

    bank: str
    product: str
    wealth: bool
    selling_points: tuple[tuple[tuple[str, frozenset[str]], ...], ...]  # per point: (chunk, its bigrams)
    risk_level: str | None = None  # the product's own (R1-R5), when known

    def points_in(self, text: str) -> int:
        """How many of the product's selling points ``text`` mentions (paraphrases count)."""
        found = 0
        grams_of_text = bigrams(text)
        for point in self.selling_points:
            for chunk, grams in point:
                if chunk in text or (len(grams) >= 3 and len(grams & grams_of_text) / len(grams) >= 0.6):
                    found += 1
                    break
        return found


def clauses(text: str) -> list[str]:
    return [c for c in re.split(rf"[{_END}，,：:]", text) if c.strip()]


def identity(text: str, ctx: CueContext) -> bool:
    """Says who is calling: 我是/我叫/我姓 with a name or an agent word (not only "我是X银行的")."""
    if AGENT_WORD_RE.search(text):
        return True
    for match in IDENTITY_RE.finditer(text):
        rest = match.group(1).replace(ctx.bank, "").replace("的", "").replace("银行", "").strip()
        if rest:
            return True
    return False


def asks(text: str) -> bool:
    """The line ends on a question or asks permission, giving the customer the word. A risk notice
    said after the question (as bot/guidance appends it) does not take the word back."""
    sentences = [s.strip() for s in re.findall(rf"[^{_END}]+[{_END}]*", text) if s.strip(f"{_END} \n")]
    while len(sentences) > 1 and COMPLIANCE_TAIL_RE.search(sentences[-1]):
        sentences.pop()
    if not sentences:
        return False
    last = sentences[-1].rstrip("。.!！~～…\"”'’ ")
    if last.endswith(("?", "？")):
        return True
    last = last.rstrip("?？")
    return bool(QUESTION_END_RE.search(last) or QUESTION_CUE_RE.search(last))


def benefit_count(text: str, ctx: CueContext) -> int:
    cue = 1 if BENEFIT_CUE_RE.search(text) else 0
    return max(ctx.points_in(text), len(set(ENUMERATION_RE.findall(text))), len(BENEFIT_WORD_RE.findall(text)), cue)


def is_benefit(text: str, ctx: CueContext) -> bool:
    return bool(ctx.points_in(text) or BENEFIT_CUE_RE.search(text))


def is_pitch(text: str, ctx: CueContext) -> bool:
    """Selling (or booking a callback) in any clause that is not itself a promise to stop."""
    for clause in clauses(text):
        if NEGATION_RE.search(clause):
            continue
        if ctx.product and ctx.product in clause:
            return True
        if PITCH_RE.search(clause) or is_benefit(clause, ctx):
            return True
    return False


def no_secrets(text: str, _ctx: CueContext) -> bool:
    """Says that the bank never asks for passwords or codes (a negation before 密码/验证码)."""
    return bool(SECRETS_NEGATED_RE.search(text))


def asks_secrets(text: str, _ctx: CueContext) -> bool:
    """Asks for a password, a code or the ID number, in a clause without a negation."""
    for clause in clauses(text):
        if re.search(r"密码|验证码|身份证号", clause) and re.search(r"告诉我|报|提供|发给我|念|说一下|输入", clause) \
                and not re.search(r"不|无需|别", clause):
            return True
    return False


def promises(text: str, ctx: CueContext | None = None) -> bool:
    """A promise bot.compliance forbids (保本, 没风险, 一定能拿到 ..., negation-aware) or reassurance
    in place of facts (放心吧)."""
    product = "wealth" if ctx is not None and ctx.wealth else None
    return bool(promises_in(text, product, learned=REHEARSAL_LEARNED) or PROMISE_RE.search(text))


def pattern_check(pattern: str) -> Callable[[str, CueContext], bool]:
    """A cue that is a regular expression (rubric.yml ``pattern``)."""
    compiled = re.compile(pattern)
    return lambda text, _ctx: bool(compiled.search(text))


Check = Callable[[str, CueContext], bool]

# The named checks a rubric cue may use (rubric.yml ``check``).
CHECKS: dict[str, Check] = {
    "time": lambda text, _ctx: bool(TIME_RE.search(text)),
    "benefit": is_benefit,
    "question": lambda text, _ctx: asks(text),
    "identity": identity,
    "identity_or_bank": lambda text, ctx: identity(text, ctx) or ctx.bank in text,
    "bank": lambda text, ctx: ctx.bank in text,
    "purpose": lambda text, _ctx: bool(PURPOSE_RE.search(text)),
    "no_secrets": no_secrets,
    "asks_secrets": asks_secrets,
    "disparages": lambda text, _ctx: bool(DISPARAGING_RE.search(text)),
    "promises": promises,
    "pressure": lambda text, _ctx: bool(PRESSURE_RE.search(text)),
    "pitch": is_pitch,
    "mentions_selling_point": lambda text, ctx: ctx.points_in(text) > 0,
}
