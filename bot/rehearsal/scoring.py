"""Scoring a rehearsal: a deterministic, explainable rubric over the transcript (issue 10, point 3).

Pure logic over plain data (no Rasa, no database): the role-play hands over the transcript as
``Turn`` objects and gets a ``ScoreCard`` back. The same transcript always gives the same card.
The cues below are derived from the playbook (bot/playbook/openings.yml, objections.yml,
compliance.yml) and the seed script book (../shared/seeds/001: 30秒原则; 三个卖点每次只说一个，
然后问"您听着怎么样"; how to answer each refusal). Every miss carries the playbook's model line,
rendered like bot/guidance.py renders it (title 您, agent 坐席, the bank, the product, the first
selling point as advantage, ...).

Rubric (0-100), item weights:

====================  ======  ==========================================================
item (key)            points  what earns them
====================  ======  ==========================================================
opening               20      first trainee line, the 30-second rule: who I am (我是/我叫 + a
                              name or an agent word) 3 + the bank's name 3, why I call 5, what it does for the
                              client (a selling point, or 好处/优势/亮点 with content) 5,
                              ends with a question or asks permission 4
questions             15      every line that presents a benefit ends with a question
                              (您听着怎么样/您觉得/吗/？) 10, pro rata; one selling point at a
                              time (no line with 3+ benefits) 5
objections            25      for each objection the customer raised, the trainee's next line
                              uses the playbook technique for it (cue groups in
                              OBJECTION_CUES, pro rata; a "don't" in OBJECTION_DONTS, such as
                              disparaging another bank or promising on risk, voids that answer).
                              No objection raised: full points. Any pitch or callback after the
                              customer asked not to be called again: 0 for the whole item
next_step             10      the trainee's last two lines propose a concrete next step
                              (办理方式、带身份证、手机银行申请、约时间、几点回电) 10; only a vague
                              one (有需要再联系) 5. After 勿扰: ending politely without selling
                              is the right ending (10)
courtesy              10      addresses the customer as 您 3, polite words (请/谢谢/不好意思/
                              抱歉/打扰...) 4 (two kinds) or 2 (one kind), no rude words 3;
                              each rude phrase (你懂不懂/爱买不买/烦不烦...) costs 5 more
compliance            20      wealth product: the disclosure said at least once (理财非存款 4,
                              产品有风险 4, 投资须谨慎 4) and the risk level (风险等级/R1-R5) 4;
                              other products: these 16 are not required and given. No forbidden
                              phrase 4. Any forbidden phrase: 0 for the whole item
====================  ======  ==========================================================

Caps: any forbidden phrase (bot.playbook.find_forbidden) said by the trainee is flagged by name
and caps the total at 40; pitching after the customer asked not to be called again (勿扰后继续推销)
is flagged and caps the total at 40 as well. Feedback names lines by their place in the whole
transcript (第3句 = the third turn, customer turns included).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.guidance import with_risk_disclosure
from bot.playbook import Technique, find_forbidden, playbook
from bot.text import normalize

TRAINEE = "trainee"
CUSTOMER = "customer"
SPEAKERS = (TRAINEE, CUSTOMER)

WEIGHTS = {
    "opening": 20,
    "questions": 15,
    "objections": 25,
    "next_step": 10,
    "courtesy": 10,
    "compliance": 20,
}
TITLES = {
    "opening": "30秒开场白",
    "questions": "卖点后提问",
    "objections": "异议应对技巧",
    "next_step": "明确下一步",
    "courtesy": "礼貌用语",
    "compliance": "合规与风险提示",
}
CAP = 40  # the most a transcript with a forbidden promise (or a pitch after 勿扰) can score
DNC = "objection_do_not_call"
DNC_FLAG = "勿扰后继续推销"
CALLBACK_OBJECTIONS = ("objection_busy", "objection_think_it_over", "objection_send_materials")


@dataclass(frozen=True)
class Turn:
    speaker: str  # "trainee" or "customer"
    text: str
    objection: str | None = None  # on customer turns: the objection intent raised (contract names)


@dataclass(frozen=True)
class ItemScore:
    key: str
    title: str
    points: int
    max_points: int
    feedback: str
    model_line: str | None


@dataclass(frozen=True)
class ScoreCard:
    total: int
    items: tuple[ItemScore, ...]
    flags: tuple[str, ...]  # forbidden phrases found, by name (and 勿扰后继续推销)

    def readable(self) -> str:
        """The score card in Chinese, every item with its points, feedback and model line."""
        lines = [f"练习评分：总分 {self.total} 分（满分100）"]
        if self.flags:
            lines.append(f"⚠️ 违规：{'、'.join(self.flags)}（总分最高{CAP}分）")
        for number, item in enumerate(self.items, 1):
            mark = "✓" if item.points == item.max_points else "✗"
            lines.append(f"{number}. {item.title}：{item.points}/{item.max_points} {mark}")
            lines.append(f"   点评：{item.feedback}")
            if item.model_line:
                model = item.model_line.replace("\n", "\n     ")
                lines.append(f"   参考话术：{model}")
        return "\n".join(lines)


# --- text cues ------------------------------------------------------------------------------

_END = r"。！!？?；;…"
_NUM = r"\d一二两三四五六七八九十半"
# A time to call again or to meet (一个小时后、下午三点、明天、周五...). Not "一分钟" (a duration)
# and not "三点好处" (a count).
TIME_RE = re.compile(
    rf"(?:\d{{1,2}}|[两三四五六七八九十]|十[一二])\s*点(?!(?:好处|优势|卖点|特点|需要|要求|建议|注意|想法))"
    r"|\d{1,2}[:：]\d{2}"
    rf"|(?:上午|下午|晚上|中午|明天|今天)\s*一点"
    rf"|[{_NUM}]+\s*个?\s*(?:小时|钟头)\s*(?:后|以后|之后)"
    rf"|[{_NUM}]+\s*分钟\s*(?:后|以后|之后)"
    r"|明天|后天|今晚|今天(?:下午|晚上|上午)|上午|下午|晚上|中午|傍晚|周[一二三四五六日末]|星期[一二三四五六日天]"
    r"|下周|下个?星期|稍后|晚点|晚些|改天|过两天|过几天|回头"
)
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
UNKNOWN_RISK_LEVEL = "产品说明书上标明的等级"
NEGATION_RE = re.compile(r"不再|不会|再也不|停止|不用再|不打扰|不给您打")
PITCH_RE = re.compile(
    r"介绍|推荐|办理|了解一下|考虑|购买|买|开通|收益|利率|起购|理财|再打|回电|再联系|约|错过|名额|优惠"
)


DISPARAGING_RE = re.compile(r"不好(?!意思)|坑|垃圾|不靠谱|骗人|骗钱|差劲|太差|很差|黑心|乱收费|不正规|小银行|比不上")


class _Values(dict):
    """Template values; a placeholder nobody filled renders as empty text, never an error."""

    def __missing__(self, key: str) -> str:
        return ""


def fill_template(template: str, values: dict[str, str]) -> str:
    """``template`` with ``values``; unknown placeholders become empty, malformed ones are left as written."""
    try:
        return string.Formatter().vformat(template, (), _Values(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


@dataclass(frozen=True)
class _Ctx:
    bank: str
    product: str
    wealth: bool
    selling_points: tuple[tuple[tuple[str, frozenset[str]], ...], ...]  # per point: (chunk, its bigrams)
    values: _Values
    risk_level: str | None = None  # the product's own (R1-R5), when known

    def points_in(self, text: str) -> int:
        """How many of the product's selling points ``text`` mentions (paraphrases count)."""
        found = 0
        bigrams = _bigrams(text)
        for chunks in self.selling_points:
            for chunk, grams in chunks:
                if chunk in text or (len(grams) >= 3 and len(grams & bigrams) / len(grams) >= 0.6):
                    found += 1
                    break
        return found


def _identity(text: str, ctx: _Ctx) -> bool:
    """Says who is calling: 我是/我叫/我姓 with a name or an agent word (not only "我是X银行的")."""
    if AGENT_WORD_RE.search(text):
        return True
    for match in IDENTITY_RE.finditer(text):
        rest = match.group(1).replace(ctx.bank, "").replace("的", "").replace("银行", "").strip()
        if rest:
            return True
    return False


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def _chunks(point: str) -> tuple[tuple[str, frozenset[str]], ...]:
    parts = [p.strip() for p in re.split(r"[，,。；;、：:！!？?\s（）()]+", normalize(point))]
    chunks = [p for p in parts if len(p) >= 3] or ([normalize(point).strip()] if point.strip() else [])
    return tuple((c, _bigrams(c)) for c in chunks)


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(rf"[{_END}，,：:]", text) if c.strip()]


def _asks(text: str) -> bool:
    """The line ends on a question or asks permission, giving the customer the word. A risk notice
    said after the question (as bot/guidance.py appends it) does not take the word back."""
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


def _benefit_count(text: str, ctx: _Ctx) -> int:
    cue = 1 if BENEFIT_CUE_RE.search(text) else 0
    return max(ctx.points_in(text), len(set(ENUMERATION_RE.findall(text))), len(BENEFIT_WORD_RE.findall(text)), cue)


def _is_benefit(text: str, ctx: _Ctx) -> bool:
    return bool(ctx.points_in(text) or BENEFIT_CUE_RE.search(text))


def _is_pitch(text: str, ctx: _Ctx) -> bool:
    """Selling (or booking a callback) in any clause that is not itself a promise to stop."""
    for clause in _clauses(text):
        if NEGATION_RE.search(clause):
            continue
        if ctx.product and ctx.product in clause:
            return True
        if PITCH_RE.search(clause) or _is_benefit(clause, ctx):
            return True
    return False


def _re(pattern: str) -> Callable[[str, _Ctx], bool]:
    compiled = re.compile(pattern)
    return lambda text, _ctx: bool(compiled.search(text))


def _time(text: str, _ctx: _Ctx) -> bool:
    return bool(TIME_RE.search(text))


def _benefit(text: str, ctx: _Ctx) -> bool:
    return _is_benefit(text, ctx)


def _question(text: str, _ctx: _Ctx) -> bool:
    return _asks(text)


def _no_secrets(text: str, _ctx: _Ctx) -> bool:
    """Says that the bank never asks for passwords or codes (a negation before 密码/验证码)."""
    return bool(re.search(r"(?:不会|不要|不用|无需|不需要|绝不|从不|不)[^。！!？?]{0,14}(?:密码|验证码)", text))


def _asks_secrets(text: str, _ctx: _Ctx) -> bool:
    """Asks for a password, a code or the ID number, in a clause without a negation."""
    for clause in _clauses(text):
        if re.search(r"密码|验证码|身份证号", clause) and re.search(r"告诉我|报|提供|发给我|念|说一下|输入", clause) \
                and not re.search(r"不|无需|别", clause):
            return True
    return False


def _disparages(text: str, _ctx: _Ctx) -> bool:
    return bool(DISPARAGING_RE.search(text))


def _promises(text: str, _ctx: _Ctx) -> bool:
    return bool(find_forbidden(text) or re.search(
        r"没(?:有)?(?:任何|什么)?风险|不会(?:有)?(?:风险|亏)|绝对|保证|肯定(?:能|会|赚|不)|一定(?:能|会|赚)|您就放心|放心吧|放心好了",
        text))


def _pressure(text: str, _ctx: _Ctx) -> bool:
    return bool(re.search(r"借钱|借点|刷信用卡|套现|贷款买|必须|赶紧|错过就|名额有限|马上买|现在就买|就今天", text))


Cue = tuple[str, Callable[[str, _Ctx], bool]]

# What the trainee's answer to each objection must contain: every group is one step of the
# playbook technique (objections.yml), said in any of the listed ways. Pro rata per group.
OBJECTION_CUES: dict[str, tuple[Cue, ...]] = {
    # 约定回电：立即致歉，约一个小时后回电并确认。
    "objection_busy": (
        ("提出一个具体的回电时间", _time),
        ("说明会再打过来", _re(r"再打|再给您打|打给您|给您打|打过来|回电|再联系|联系您|回拨|再来电")),
    ),
    # 如实说明来源，告诉客户如何自行核实（官方热线、任一网点），提醒不索要密码验证码。
    "objection_trust": (
        ("告诉客户如何自行核实（官方热线、网点）", _re(r"热线|客服电话|官方电话|网点|柜台|官网|回拨|核实|查询|9\d{4}")),
        ("提醒银行不会索要密码和验证码", _no_secrets),
    ),
    # 坦白这就是推销电话，承诺不超过一分钟，然后只说一个好处。
    "objection_hate_sales": (
        ("坦白是推销电话或承诺只占一分钟", _re(r"推销|销售电话|营销电话|一分钟|半分钟|几十秒|长话短说|不耽误|一句话")),
        ("只说一个对客户有用的好处", _benefit),
    ),
    # “您还没听我介绍，怎么知道不需要呢？”只说一个卖点，然后问客户感受。
    "objection_not_interested": (
        ("只说一个卖点", _benefit),
        ("说完问客户感受", _question),
    ),
    # 先肯定客户现有的选择，绝不贬低同业，只讲我行的一个不同点。
    "objection_has_provider": (
        ("肯定客户现有的选择", _re(r"挺好|很好|不错|有经验|理解|很熟悉|肯定也")),
        ("只讲我行的一个不同点、作为补充", _re(r"不一样|不同|区别|补充|多一个选择|搭配|特点|优势")),
    ),
    # 先如实说出费用、利率或收益区间（以我行公布为准），再用一个卖点讲价值；不作收益承诺。
    "objection_price": (
        ("如实说明费用、利率或收益区间（以我行公布为准）",
         _re(r"公布为准|以.{0,6}为准|如实|费用|利率|收益率|业绩比较基准|年化|手续费|区间")),
        ("用一个卖点讲价值", _re(r"价值|划算|值得|除了价格|多给您|同样的投入|好处|另外|还有一点|还有个")),
    ),
    # 如实说明风险等级和可能的波动，宣读风险提示，先做风险测评；不承诺本金和收益。
    "objection_risk": (
        ("如实说明风险等级", _re(r"风险等级|风险级别|R[1-5]|不是理财产品|不属于投资理财")),
        ("说明可能的波动并宣读风险提示", _re(r"波动|亏损|有风险|理财非存款|非存款|投资须谨慎|不代表未来|存款保险")),
        ("提醒先做风险测评、看是否匹配", _re(r"风险测评|测评|评估|承受能力|匹配|适不适合|按时还款|合同条款")),
    ),
    # 认同慎重考虑，问清还有哪一点不明白，约定具体的跟进时间。
    "objection_think_it_over": (
        ("问清客户还有哪一点不明白", _re(
            r"(?:哪|什么).{0,8}(?:不太?清楚|不太?明白|顾虑|犹豫|担心|疑问|问题|想法|考虑)|还有.{0,6}(?:问题|疑问|不太?清楚|不太?明白)")),
        ("约定具体的跟进时间", _time),
    ),
    # 爽快答应，告诉客户在哪里能看到官方资料，同时约一个具体时间一起过一遍。
    "objection_send_materials": (
        ("告诉客户在哪里看官方资料", _re(r"手机银行|官网|网点|APP|app|公众号|官方网站")),
        ("约一个具体时间一起过一遍", _time),
    ),
    # 表示理解、不勉强；提一下门槛低的选择。
    "objection_no_money": (
        ("表示理解、不勉强", _re(r"理解|不勉强|不急|不着急|量力|没关系|不用急|等您方便|有需要再|不会勉强")),
        ("提一下门槛低的选择", _re(r"门槛|起点|起购|起存|小额|少量|[一1]元|[一1]块|不高|很低")),
    ),
    # 先道歉，说是回访记录可能有误，再请教客户目前用的是哪家银行。
    "objection_wrong_number": (
        ("先道歉", _re(r"不好意思|抱歉|对不起|打扰")),
        ("请教客户目前用哪家银行", _re(r"哪家|哪个银行|哪一家|用的是哪|什么银行")),
    ),
    # 道歉“估计他还没来得及跟您说，是我心急先打过来了”，再简单介绍产品，不纠缠。
    "objection_referral_doubt": (
        ("先道歉", _re(r"不好意思|抱歉|对不起")),
        ("说明是自己心急先打过来了", _re(r"心急|还没来得及|没来得及|没顾上|不是朋友介绍|不是谁引荐")),
        ("简单介绍产品", _benefit),
    ),
    # 先感谢一直以来的支持，再只介绍一个他还没有的产品的一个卖点。
    "objection_already_customer": (
        ("感谢客户一直以来的支持", _re(r"谢谢|感谢")),
        ("介绍一个客户还没有的产品", _re(r"还没有|还没开通|没开通|还没办|补充|搭配|新")),
    ),
    # 立即停止推销：真诚道歉，确认以后不再打推销电话，礼貌结束。
    DNC: (
        ("真诚道歉", _re(r"抱歉|不好意思|对不起|打扰")),
        ("确认登记勿扰、以后不再来电", _re(r"不再|不会再|登记|勿扰|以后不")),
    ),
    # 30秒原则：我是谁、代表哪家银行；为什么打给您；产品对您有什么用。
    "customer_asks_purpose": (
        ("说清我是谁、代表哪家银行", lambda text, ctx: _identity(text, ctx) or ctx.bank in text),
        ("说清打电话的目的", _re(PURPOSE_RE.pattern)),
        ("说清产品对客户有什么用", _benefit),
    ),
}
GENERIC_CUES: tuple[Cue, ...] = (("先接住客户的话", _re(r"理解|明白|好的|没关系|不好意思|抱歉|谢谢")),)

# What the answer must not do (any of them voids the answer to that objection).
OBJECTION_DONTS: dict[str, tuple[Cue, ...]] = {
    "objection_busy": (("客户在忙还继续推销", lambda text, ctx: ctx.points_in(text) > 0),),
    "objection_trust": (("向客户索要密码、验证码或证件号", _asks_secrets), ("施压", _pressure)),
    "objection_has_provider": (("贬低同业", _disparages),),
    "objection_price": (("承诺收益", _promises),),
    "objection_risk": (("对本金或收益作出承诺", _promises),),
    "objection_no_money": (("施压或劝客户借钱购买", _pressure),),
    DNC: (("还在推销或约回电", _is_pitch),),
}


# --- the playbook's model lines ---------------------------------------------------------------

def _values(bank: str, product: str, selling_points: tuple[str, ...], risk_level: str) -> _Values:
    pb = playbook()
    messages = pb.messages
    advantage = selling_points[0] if selling_points else "（这里说产品的一个卖点）"
    return _Values({
        "title": "您",
        "agent": "坐席",
        "bank": bank,
        "hotline": "",
        "product": product,
        "advantage": advantage,
        "referrer": "您的朋友",
        "company": "贵单位",
        "risk_level": risk_level,
        "disclosure": pb.disclosure,
        "callback_time": "一个小时后",
        "alternatives": "手机银行里起点较低的产品",
        "comparison": selling_points[1] if len(selling_points) > 1 else advantage,
        "recording": pb.recording_notice,
        "last_said": messages.get("last_said", {}).get("default", ""),
        "contact_source": messages.get("contact_sources", {}).get("unknown", "").format(bank=bank),
        "pricing": messages.get("pricing_unknown", ""),
        "eligibility": messages.get("eligibility_unknown", ""),
        "signup": messages.get("signup_unknown", ""),
    })


def _spoken(line: str, ctx: _Ctx) -> str:
    """Like bot/guidance.py: a wealth product is never presented without its risk level and the disclosure."""
    if not ctx.wealth or ctx.values["product"] not in line:
        return line
    return with_risk_disclosure(line, ctx.values["product"], ctx.values["risk_level"])


def _model(technique: Technique, ctx: _Ctx, check: Callable[[str], bool] | None = None) -> str:
    """The first template of ``technique`` (that passes ``check``), rendered for this rehearsal."""
    lines = [fill_template(t, ctx.values) for t in technique.templates]
    line = next((x for x in lines if check is None or check(normalize(x))), lines[0])
    return _spoken(line, ctx)


def _objection_technique(intent: str, ctx: _Ctx) -> Technique | None:
    pb = playbook()
    if intent == "objection_risk" and not ctx.wealth:
        return pb.risk_no_level
    return pb.objections.get(intent)


def _pitch_technique() -> Technique:
    pb = playbook()
    follow_up = pb.opening_follow_ups.get("self_intro", {}).get("customer_asks_purpose")
    if follow_up:
        return follow_up
    return Technique("pitch", "一次一个卖点", "", ("{product}最大的好处是{advantage}。" + pb.messages["ask_feeling"],))


# --- the items ----------------------------------------------------------------------------------

def _item(key: str, points: float, feedback: str, model_line: str | None) -> ItemScore:
    max_points = WEIGHTS[key]
    points = max(0, min(max_points, round(points)))
    return ItemScore(key, TITLES[key], points, max_points, feedback, None if points == max_points else model_line)


def _score_opening(trainee: list[tuple[int, str]], ctx: _Ctx) -> ItemScore:
    pb = playbook()
    model = _model(pb.openings["direct"], ctx)
    if not trainee:
        return _item("opening", 0, "没有开场白。", model)
    _index, text = trainee[0]
    checks = (
        (3, "说出自己是谁（我是/我叫+姓名或职务）", _identity(text, ctx)),
        (3, f"报出银行名称“{ctx.bank}”", ctx.bank in text),
        (5, "讲明打电话的目的", bool(PURPOSE_RE.search(text))),
        (5, "说出产品对客户的一个好处", _is_benefit(text, ctx)),
        (4, "用一个问题或征求同意收尾", _asks(text)),
    )
    points = sum(p for p, _label, ok in checks if ok)
    missed = [label for _p, label, ok in checks if not ok]
    if not missed:
        return _item("opening", points, "开场30秒讲清了我是谁、哪家银行、为什么来电、对客户有什么好处，"
                     "并用问题把话头交给客户。", None)
    feedback = (f"开场白缺少：{'；'.join(missed)}。30秒原则：我是谁、代表哪家银行，为什么打给您，"
                "产品对您有什么用，最后问一句。")
    return _item("opening", points, feedback, model)


def _score_questions(trainee: list[tuple[int, str]], ctx: _Ctx) -> ItemScore:
    model = _model(_pitch_technique(), ctx)
    benefit_lines = [(i, t) for i, t in trainee if _is_benefit(t, ctx)]
    if not benefit_lines:
        return _item("questions", 0, "整通练习没有讲出产品的任何卖点，客户不知道产品对自己有什么用。", model)
    unasked = [i for i, t in benefit_lines if not _asks(t)]
    dumps = [i for i, t in benefit_lines if _benefit_count(t, ctx) >= 3]
    points = 10 * (len(benefit_lines) - len(unasked)) / len(benefit_lines) + (0 if dumps else 5)
    problems = []
    if unasked:
        problems.append(f"第{_turn_list(unasked)}句讲了卖点却没有问客户感受")
    if dumps:
        problems.append(f"第{_turn_list(dumps)}句一口气讲了三个及以上的卖点")
    if not problems:
        return _item("questions", points, f"{len(benefit_lines)}次介绍卖点，每次只说一个，说完都问了客户感受。", None)
    feedback = "；".join(problems) + "。每次只说一个卖点，然后问“您听着怎么样？”，把说话的机会交给客户。"
    return _item("questions", points, feedback, model)


def _turn_list(indexes: Iterable[int]) -> str:
    return "、".join(str(i) for i in indexes)


def _answer_result(intent: str, answer: str, ctx: _Ctx) -> tuple[float, list[str], list[str]]:
    """(fraction of the technique used, the steps missed, the don'ts done)."""
    cues = OBJECTION_CUES.get(intent, GENERIC_CUES)
    missed = [label for label, check in cues if not check(answer, ctx)]
    donts = [label for label, check in OBJECTION_DONTS.get(intent, ()) if check(answer, ctx)]
    fraction = 0.0 if donts else (len(cues) - len(missed)) / len(cues)
    return fraction, missed, donts


def _passes(intent: str, ctx: _Ctx) -> Callable[[str], bool]:
    def check(line: str) -> bool:
        fraction, _missed, _donts = _answer_result(intent, line, ctx)
        return fraction == 1.0
    return check


def _objection_model(intent: str, ctx: _Ctx) -> str | None:
    technique = _objection_technique(intent, ctx)
    if technique is None:
        return None
    return f"【{technique.name}】{_model(technique, ctx, _passes(intent, ctx))}"


def _objection_name(intent: str) -> str:
    technique = playbook().objections.get(intent)
    return technique.name if technique else intent


def _dnc_pitches(turns: Sequence[Turn], ctx: _Ctx) -> list[int]:
    """Trainee lines (1-based) that sell or book a callback after the customer asked not to be called."""
    start = next((i for i, t in enumerate(turns) if t.speaker == CUSTOMER and t.objection == DNC), None)
    if start is None:
        return []
    return [i + 1 for i, t in enumerate(turns) if i > start and t.speaker == TRAINEE and _is_pitch(_norm(t), ctx)]


def _score_objections(turns: Sequence[Turn], ctx: _Ctx) -> ItemScore:
    raised = [(i, t.objection) for i, t in enumerate(turns) if t.speaker == CUSTOMER and t.objection]
    if not raised:
        return _item("objections", WEIGHTS["objections"], "客户这次没有提出异议。", None)
    fractions: list[float] = []
    notes: list[str] = []
    models: list[str] = []
    for index, intent in raised:
        name = _objection_name(intent)
        answer_index = next((j for j in range(index + 1, len(turns)) if turns[j].speaker == TRAINEE), None)
        if answer_index is None:
            fraction, what = 0.0, "没有回应"
        else:
            fraction, missed, donts = _answer_result(intent, _norm(turns[answer_index]), ctx)
            if donts:
                what = f"第{answer_index + 1}句{'、'.join(donts)}"
            elif missed:
                what = f"第{answer_index + 1}句缺少：{'、'.join(missed)}"
            else:
                what = f"第{answer_index + 1}句用对了技巧"
        fractions.append(fraction)
        notes.append(f"异议“{name}”（第{index + 1}句）：{what}")
        if fraction < 1.0:
            model = _objection_model(intent, ctx)
            if model and model not in models:
                models.append(model)
    pitches = _dnc_pitches(turns, ctx)
    if pitches:
        notes.append(f"客户要求不再来电后，第{_turn_list(pitches)}句仍在推销或约回电，属于严重违规，本项不得分")
        points = 0.0
        model = _objection_model(DNC, ctx)
        if model and model not in models:
            models.insert(0, model)
    else:
        points = WEIGHTS["objections"] * sum(fractions) / len(fractions)
    feedback = "；".join(notes) + "。"
    if models:
        feedback += "按话术手册的技巧回应每一个异议。"
    return _item("objections", points, feedback, "\n".join(models) or None)


def _score_next_step(turns: Sequence[Turn], trainee: list[tuple[int, str]], ctx: _Ctx) -> ItemScore:
    pb = playbook()
    objections = [t.objection for t in turns if t.speaker == CUSTOMER and t.objection]
    if DNC in objections:
        model = _objection_model(DNC, ctx)
        if _dnc_pitches(turns, ctx):
            return _item("next_step", 0, "客户要求不再来电，正确的收尾是道歉、登记勿扰、礼貌结束，"
                         "不能再推销或约回电。", model)
        last = trainee[-1][1] if trainee else ""
        if NEGATION_RE.search(last) or re.search(r"登记|勿扰|再见", last):
            return _item("next_step", WEIGHTS["next_step"], "客户要求不再来电，坐席登记勿扰、礼貌结束，"
                         "收尾正确。", None)
        return _item("next_step", 0, "客户要求不再来电，收尾时要确认登记勿扰、礼貌结束。", model)
    last_callback = next((o for o in reversed(objections) if o in CALLBACK_OBJECTIONS), None)
    if last_callback and objections[-1] == last_callback:
        model = _objection_model(last_callback, ctx)
    else:
        model = f"【{pb.interested.name}】{_model(pb.interested, ctx)}"
    ending = " ".join(t for _i, t in trainee[-2:])
    if CONCRETE_STEP_RE.search(ending) or (TIME_RE.search(ending) and CALLBACK_ACTION_RE.search(ending)):
        return _item("next_step", WEIGHTS["next_step"], "结尾给出了具体的下一步（办理方式或约好的时间）。", None)
    if VAGUE_STEP_RE.search(ending):
        return _item("next_step", 5, "结尾只说了“有需要再联系”之类的话，下一步不具体："
                     "说清办理方式，或约一个具体的时间。", model)
    return _item("next_step", 0, "结尾没有约定下一步：说清办理方式（手机银行申请、带身份证到网点），"
                 "或约一个几点回电的时间。", model)


def _score_courtesy(trainee: list[tuple[int, str]], ctx: _Ctx) -> ItemScore:
    pb = playbook()
    model = f"【{pb.closing.name}】{_model(pb.closing, ctx)}"
    text = "\n".join(t for _i, t in trainee)
    if not text:
        return _item("courtesy", 0, "没有发言。", model)
    rude = [p for p in RUDE_PHRASES if p in text and not any(p != q and p in q and q in text for q in RUDE_PHRASES)]
    polite = [w for w in POLITE_WORDS if w in text]
    uses_nin = "您" in text and text.count("您") >= text.count("你")
    points = (3 if uses_nin else 0) + (4 if len(polite) >= 2 else 2 if polite else 0)
    problems = []
    if not uses_nin:
        problems.append("称呼客户要用“您”")
    if len(polite) < 2:
        problems.append("多用“请”“谢谢”“不好意思”“打扰您了”这样的礼貌用语")
    if rude:
        points -= 5 * len(rude)
        problems.append(f"说了不礼貌的话：{'、'.join(rude)}")
    else:
        points += 3
    if not problems:
        return _item("courtesy", points, f"称呼用“您”，礼貌用语到位（{'、'.join(polite)}），没有不礼貌的话。", None)
    return _item("courtesy", points, "；".join(problems) + "。", model)


def _score_compliance(trainee: list[tuple[int, str]], ctx: _Ctx, forbidden: list[str]) -> ItemScore:
    pb = playbook()
    text = "\n".join(t for _i, t in trainee)
    risk_model = _objection_technique("objection_risk", ctx)
    if forbidden:
        model = "不要对本金或收益作任何承诺，这样说：" + (
            _model(risk_model, ctx) if risk_model else pb.disclosure)
        return _item("compliance", 0,
                     f"说了禁用承诺语：{'、'.join(forbidden)}。任何保本、保收益、稳赚的承诺都违规，本项不得分，总分最高{CAP}分。",
                     model)
    if not ctx.wealth:
        return _item("compliance", WEIGHTS["compliance"], "没有违规承诺；本产品不是理财产品，"
                     "不需要理财风险提示。", None)
    said = [(name, bool(pattern.search(text))) for name, pattern in DISCLOSURE_PARTS]
    wrong = sorted({level for level in re.findall(r"R[1-5]", text) if ctx.risk_level and level != ctx.risk_level})
    said.append(("风险等级", bool(RISK_LEVEL_RE.search(text)) and not wrong))
    points = 4 + 4 * sum(ok for _name, ok in said)
    missed = [name for name, ok in said if not ok]
    if wrong:
        model = fill_template(pb.messages.get("risk_spoken", ""), ctx.values).removeprefix("同时")
        return _item("compliance", points, f"风险等级说错了：{ctx.values['product']}是{ctx.risk_level}，"
                     f"不是{'、'.join(wrong)}。风险等级必须照产品说明如实说。", model)
    if not missed:
        return _item("compliance", points, f"完整宣读了风险提示“{pb.disclosure}”并说明了风险等级，没有违规承诺。", None)
    risk = pb.messages.get("risk_spoken", "")
    model = fill_template(risk, ctx.values).removeprefix("同时")
    feedback = (f"{ctx.values['product']}是理财产品，介绍时必须说风险提示“{pb.disclosure}”和风险等级，"
                f"这次没有说：{'、'.join(missed)}。")
    return _item("compliance", points, feedback, model)


def _norm(turn: Turn) -> str:
    return normalize(turn.text or "").upper()


def _context(trainee: list[tuple[int, str]], bank: str, product_name: str, product_is_wealth: bool,
             selling_points: Sequence[str], risk_level: str | None = None) -> _Ctx:
    # The model lines state the product's own level; without one, they point to the product sheet.
    return _Ctx(
        bank=normalize(bank).upper(),
        product=normalize(product_name).upper(),
        wealth=product_is_wealth,
        selling_points=tuple(c for c in (_chunks(p) for p in selling_points) if c),
        values=_values(bank, product_name, tuple(selling_points), risk_level or UNKNOWN_RISK_LEVEL),
        risk_level=risk_level,
    )


# What a trainee line does, in the order the transcript shows the tags (labels.yml line_functions).
LINE_FUNCTIONS = ("identity", "purpose", "benefit", "question", "technique", "promise")


def line_functions(turns: Sequence[Turn], *, bank: str, product_name: str, product_is_wealth: bool,
                   selling_points: tuple[str, ...] = (), risk_level: str | None = None) -> list[tuple[str, ...]]:
    """Per turn, what the trainee's line does (customer turns: ``()``), by the rubric's own cues:
    says who is calling (identity), why (purpose), a benefit, asks a question, answers the
    objection just raised with its playbook technique (technique), or makes a forbidden or
    reckless promise (promise). This is how a rehearsal reads every message: as a line said to
    the customer, never as a request to the assistant."""
    trainee = [(i + 1, _norm(t)) for i, t in enumerate(turns) if t.speaker == TRAINEE]
    ctx = _context(trainee, bank, product_name, product_is_wealth, selling_points, risk_level)
    result: list[tuple[str, ...]] = []
    pending: str | None = None  # the objection the customer raised last, not yet answered
    for turn in turns:
        if turn.speaker != TRAINEE:
            pending = turn.objection
            result.append(())
            continue
        text = _norm(turn)
        found = {
            "identity": _identity(text, ctx),  # 我是/我叫 + a name or role; the bank's name alone is not
            # "我一个小时后再打给您" books a callback; it does not say why the agent calls.
            "purpose": bool(PURPOSE_RE.search(text)) and not TIME_RE.search(text),
            "benefit": _is_benefit(text, ctx),
            "question": _asks(text),
            "technique": pending is not None and _answer_result(pending, text, ctx)[0] >= 0.5,
            "promise": _promises(text, ctx),
        }
        result.append(tuple(key for key in LINE_FUNCTIONS if found[key]))
        pending = None
    return result


def score(turns: list[Turn], *, bank: str, product_name: str, product_is_wealth: bool,
          selling_points: tuple[str, ...] = (), risk_level: str | None = None) -> ScoreCard:
    """The score card of a rehearsal transcript (deterministic: same transcript, same card)."""
    for turn in turns:
        if turn.speaker not in SPEAKERS:
            raise ValueError(f"unknown speaker {turn.speaker!r}: expected one of {SPEAKERS}")
    trainee = [(i + 1, _norm(t)) for i, t in enumerate(turns) if t.speaker == TRAINEE]
    ctx = _context(trainee, bank, product_name, product_is_wealth, selling_points, risk_level)
    forbidden = list(dict.fromkeys(p for _i, t in trainee for p in find_forbidden(t)))
    if not trainee:
        items = tuple(
            _item(key, 0, "这次练习坐席没有说话，无法评分。", item.model_line or item.feedback)
            for key, item in ((k, _empty_model(k, turns, ctx)) for k in WEIGHTS)
        )
        return ScoreCard(0, items, ())
    items = (
        _score_opening(trainee, ctx),
        _score_questions(trainee, ctx),
        _score_objections(turns, ctx),
        _score_next_step(turns, trainee, ctx),
        _score_courtesy(trainee, ctx),
        _score_compliance(trainee, ctx, forbidden),
    )
    flags = tuple(forbidden) + ((DNC_FLAG,) if _dnc_pitches(turns, ctx) else ())
    total = sum(item.points for item in items)
    if flags:
        total = min(total, CAP)
    return ScoreCard(total, items, flags)


def _empty_model(key: str, turns: Sequence[Turn], ctx: _Ctx) -> ItemScore:
    """An item scored on no trainee line, only for its model line."""
    pb = playbook()
    if key == "opening":
        return _score_opening([], ctx)
    if key == "questions":
        return _score_questions([], ctx)
    if key == "courtesy":
        return _score_courtesy([], ctx)
    if key == "compliance":
        risk = fill_template(pb.messages.get("risk_spoken", ""), ctx.values)
        return _item("compliance", 0, "", risk or pb.disclosure)
    if key == "objections":
        return _score_objections(turns, ctx) if any(t.objection for t in turns) else _item(
            "objections", 0, "", _objection_model("objection_busy", ctx))
    return _item("next_step", 0, "", f"【{pb.interested.name}】{_model(pb.interested, ctx)}")
