"""The normaliser and the spaCy catalogue extractor, as Rasa components on real messages."""

from __future__ import annotations

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.catalogue import catalogue_terms, write_jieba_userdict
from bot.db import sessions
from bot.models import Product, SellingPoint
from bot.nlu.catalogue_extractor import CatalogueEntityExtractor
from bot.nlu.normalizer import ChineseNormalizer
from bot.nlu.speaker import SpeakerGate
from bot.text import normalize
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我沒興趣", "我没兴趣"),  # Traditional -> Simplified
        ("查一下張三的資料", "查一下张三的资料"),
        ("１３８０００００００１", "13800000001"),  # full-width digits
        ("客戶說：我在開會", "客户说:我在开会"),  # full-width colon too
        ("白金信用卡怎么介绍", "白金信用卡怎么介绍"),  # already normal: unchanged
        ("", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected
    assert len(normalize(raw)) == len(raw)


def test_normalizer_component_keeps_entity_offsets():
    normalizer = ChineseNormalizer()
    message = Message.build(text="查一下張三的資料", intent="lookup_client",
                            entities=[{"entity": "client_name", "start": 3, "end": 5, "value": "張三"}])
    normalizer.process_training_data(TrainingData([message]))
    assert message.get("text") == "查一下张三的资料"
    entity = message.get("entities")[0]
    assert message.get("text")[entity["start"]:entity["end"]] == entity["value"] == "张三"


def test_normalizer_keeps_synonym_values():
    message = Message.build(text="白金卡", intent="request_product_pitch",
                            entities=[{"entity": "product", "start": 0, "end": 3, "value": "白金信用卡"}])
    ChineseNormalizer().process([message])
    assert message.get("entities")[0]["value"] == "白金信用卡"


def _extract(extractor, text):
    message = Message.build(text=normalize(text))
    extractor.process([message])
    return {(e["entity"], e["value"]) for e in message.get("entities", [])}


@pytest.fixture()
def extractor(crm_url):
    return CatalogueEntityExtractor({"refresh_seconds": 0, "db_url": crm_url})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("白金信用卡怎么介绍", {("product", "白金信用卡")}),
        ("客户问白金卡有什么好处", {("product", "白金信用卡")}),  # alias -> canonical name
        ("給他推薦大額存單", {("product", "大额存单")}),  # Traditional input
        ("查一下张三的资料", {("client_name", "张三")}),
        ("朱丽想了解稳享理财", {("client_name", "朱丽"), ("product", "稳享理财")}),
        ("今天天气不错", set()),
    ],
)
def test_catalogue_extractor_tags_products_and_clients(extractor, text, expected):
    assert _extract(extractor, text) == expected


def test_new_product_is_recognised_without_retraining(extractor, crm_url):
    assert _extract(extractor, "养老储蓄怎么介绍") == set()
    with sessions(crm_url).begin() as session:
        session.add(Product(code="PENSION", name="养老储蓄", category="deposit", aliases=["养老存款"],
                            selling_points=[SellingPoint(position=i, text=t) for i, t in
                                            enumerate(["专为养老", "期限灵活", "按月领取"])]))
    assert _extract(extractor, "养老储蓄怎么介绍") == {("product", "养老储蓄")}
    assert _extract(extractor, "客户说想要养老存款") == {("product", "养老储蓄")}


def test_catalogue_extractor_survives_a_missing_database(tmp_path):
    extractor = CatalogueEntityExtractor({"refresh_seconds": 0, "db_url": f"sqlite:///{tmp_path}/no/such.db"})
    message = Message.build(text="白金信用卡怎么介绍")
    extractor.process([message])
    assert message.get("entities", []) == []


def test_jieba_userdict_lists_catalogue_and_domain_terms(session, tmp_path):
    path = write_jieba_userdict(session, tmp_path)
    words = {line.split()[0] for line in path.read_text(encoding="utf-8").splitlines()}
    assert {"白金信用卡", "大额存单", "代发工资", "张三", "存款保险"} <= words
    terms = catalogue_terms(session)
    assert terms[0].text == max((t.text for t in terms), key=len)  # longest first


# ---- pinyin and relayed-speech features (bot/nlu/phone_features.py) ----------------------

@pytest.mark.parametrize(
    ("typed", "meant"),
    [("不虚要", "不需要"), ("开汇", "开会"), ("打措了", "打错了"), ("年废", "年费"), ("回放", "回访"),
     ("开厂白", "开场白")],
)
def test_ime_homophones_share_their_pinyin_features(typed, meant):
    from bot.nlu.phone_features import sentence_features, token_features

    assert token_features(typed) == token_features(meant)
    assert sentence_features(typed) == sentence_features(meant)


def test_fuzzy_pinyin_merges_what_hasty_typists_confuse():
    from bot.nlu.phone_features import sentence_features

    # 是/四 (shi/si) and 您/林 (nin/lin) differ in pinyin but share the fuzzy form.
    assert "fz:si" in sentence_features("是") and "fz:si" in sentence_features("四")
    assert set(sentence_features("您")) & set(sentence_features("林")) >= {"fz:lin"}


@pytest.mark.parametrize(
    ("line", "relayed"),
    [("客户说算了", True), ("客户：不用了", True), ("他讲不要了", True), ("对方问你是谁", True),
     ("那个 她说在开会", True), ("佢话唔使", True), ("伊讲勿要", True), ("kehu shuo bu yao", True),
     ("kehushuosuanle", True), ("client says busy", True), ("He said no thanks", True),
     ("取消", False), ("不是这个", False), ("查一下他的资料", False), ("算了", False), ("他在开会", False)],
)
def test_relay_prefix_is_a_feature(line, relayed):
    from bot.nlu.phone_features import RELAYED, sentence_features

    assert (RELAYED in sentence_features(line)) is relayed


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [
        # A busy reading on top, but do-not-call clearly present: compliance first.
        ([("objection_busy", 0.55), ("objection_do_not_call", 0.40)], "objection_do_not_call"),
        # Low-confidence fallback with do-not-call among the candidates.
        ([("nlu_fallback", 0.45), ("objection_busy", 0.30), ("objection_do_not_call", 0.28)], "objection_do_not_call"),
        # A faint trace of do-not-call does not override a clear reading.
        ([("objection_busy", 0.85), ("objection_do_not_call", 0.05)], "objection_busy"),
    ],
)
def test_do_not_call_wins_over_other_readings(ranking, expected):
    from bot.nlu.priority import PriorityIntents

    message = Message(data={"text": "x", "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
                            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking]})
    PriorityIntents(PriorityIntents.get_default_config()).process([message])
    assert message.get("intent")["name"] == expected
    assert message.get("intent_ranking")[0]["name"] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("记一下，客户有意向", ("有意向", "interested")),
        ("李明存了五万定存，記成交", ("成交", "deal")),  # Traditional input, offsets into the text itself
        ("客户说不要再打了", ("不要再打", "do_not_call")),  # the longer phrase at the same place wins
        ("还没决定，下周再说", ("还没决定", "thinking")),  # a listed phrase that starts with a negation
        ("没成交，客户说再考虑", ("再考虑", "thinking")),  # the denied outcome is skipped
        ("客户不感兴趣", None),
        ("还没有签约了", None),
        ("查一下张三", None),
    ],
)
def test_outcome_extractor_tags_listed_phrases_unless_denied(text, expected):
    from bot.nlu.outcome_extractor import OutcomeEntityExtractor

    message = Message.build(text=text)
    message.set("entities", [{"entity": "outcome", "value": "挺好", "start": 0, "end": 2, "extractor": "DIET"}])
    OutcomeEntityExtractor().process([message])
    outcomes = [e for e in message.get("entities") if e["entity"] == "outcome"]
    if expected is None:  # nothing listed: the classifier's tag stays as it was
        assert outcomes == [{"entity": "outcome", "value": "挺好", "start": 0, "end": 2, "extractor": "DIET"}]
    else:
        [entity] = outcomes
        assert (text[entity["start"]:entity["end"]], entity["value"]) == expected
        assert entity["extractor"] == "OutcomeEntityExtractor"


def test_button_payloads_are_left_alone():
    from bot.nlu.outcome_extractor import OutcomeEntityExtractor

    message = Message.build(text='/log_outcome{"outcome": "refused"}')
    OutcomeEntityExtractor().process([message])
    assert not message.get("entities")


# ---- who speaks (bot/nlu/speaker.py) ------------------------------------------------------------

def _gate(text, ranking):
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    gate = SpeakerGate(next(c for c in config["pipeline"] if c["name"].endswith("SpeakerGate")))
    message = Message(data={"text": text, "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
                            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking]})
    gate.process([message])
    return message.get("intent"), [(r["name"], round(r["confidence"], 3)) for r in message.get("intent_ranking")]


def test_a_relayed_refusal_or_yes_is_the_customers_never_the_agents_command():
    intent, ranking = _gate("客户说那就算了吧", [("deny", 0.7), ("objection_not_interested", 0.2), ("thank", 0.1)])
    assert intent == {"name": "objection_not_interested", "confidence": pytest.approx(0.9)}
    assert ranking == [("objection_not_interested", 0.9)]
    intent, _ = _gate("伊讲好额", [("affirm", 0.8), ("customer_agrees", 0.15), ("greet", 0.05)])
    assert intent["name"] == "customer_agrees" and intent["confidence"] == pytest.approx(0.95)


def test_other_agent_readings_of_a_relayed_line_drop_with_their_confidence():
    # 客户说喂你好: not the agent greeting the bot; what is left is too little to answer without asking.
    intent, ranking = _gate("客户说喂你好", [("greet", 0.8), ("customer_asks_purpose", 0.15), ("lookup_client", 0.05)])
    assert intent == {"name": "customer_asks_purpose", "confidence": pytest.approx(0.15)}
    assert ranking == [("customer_asks_purpose", 0.15)]


def test_the_agents_own_lines_and_the_customers_callback_times_are_left_alone():
    assert _gate("算了", [("deny", 0.9), ("objection_not_interested", 0.1)])[0]["name"] == "deny"
    relayed_time = [("schedule_callback", 0.7), ("objection_busy", 0.3)]
    assert _gate("客户说明天下午三点再打", relayed_time)[1] == relayed_time


def test_fine_tuning_keeps_each_pinyin_feature_in_its_column_and_appends_new_ones(tmp_path):
    """A fine-tuned DIET reads its inputs by column: a known feature must stay where the model learnt
    it, a floor line's new sounds come after (as Rasa's CountVectorsFeaturizer does)."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.nlu.phone_features import PhoneTalkFeaturizer

    def data(*texts: str) -> TrainingData:
        return TrainingData([Message(data={"text": t, "intent": "x"}) for t in texts])

    storage, resource = LocalModelStorage(tmp_path), Resource("phone")
    config = {**PhoneTalkFeaturizer.get_default_config(), "min_count": 1}
    first = PhoneTalkFeaturizer.create(config, storage, resource, ExecutionContext(GraphSchema({}), "t"))
    first.train(data("客户说他在开会", "利率太低了"))
    tuned = PhoneTalkFeaturizer.load(config, storage, resource,
                                     ExecutionContext(GraphSchema({}), "t", is_finetuning=True))
    tuned.train(data("客户说他在开会", "利率太低了", "伊讲 duoduo 勒 忙煞了"))
    assert {name: tuned.vocabulary[name] for name in first.vocabulary} == first.vocabulary
    added = set(tuned.vocabulary) - set(first.vocabulary)
    assert added and sorted(tuned.vocabulary[n] for n in added) == list(range(len(first.vocabulary),
                                                                               len(tuned.vocabulary)))
    fresh = PhoneTalkFeaturizer.create(config, storage, resource, ExecutionContext(GraphSchema({}), "t"))
    fresh.train(data("客户说他在开会", "利率太低了", "伊讲 duoduo 勒 忙煞了"))
    assert fresh.vocabulary != tuned.vocabulary and set(fresh.vocabulary) == set(tuned.vocabulary)


def test_second_opinion_reads_a_line_as_its_feature_union_does():
    """bot.linear.TextFeatures (the second opinion's features, read directly) gives the very matrix
    scikit-learn's FeatureUnion gives, so the blended readings do not move."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    from bot.linear import TextFeatures
    from bot.nlu.second_opinion import _pinyin

    lines = ["查一下张三", "开场白怎么说", "客户说他在开会", "他嫌利率太低了", "帮我约明天下午三点回电"]
    union = make_union(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                       TfidfVectorizer(analyzer=_pinyin, sublinear_tf=True)).fit(lines)
    unseen = ["客户说利率低利率低", "查下李四", "open the pitch", "", "张三张三张三"]
    ours, theirs = TextFeatures(union).transform(unseen), union.transform(unseen)
    assert ours.shape == theirs.shape and ours.nnz > 0
    assert abs(ours - theirs).max() < 1e-12
    # A union it does not read itself (no idf, a dropped part) is left to scikit-learn, not misread.
    other = make_union(TfidfVectorizer(analyzer="char", use_idf=False), "drop").fit(lines)
    assert abs(TextFeatures(other).transform(unseen) - other.transform(unseen)).max() < 1e-12
