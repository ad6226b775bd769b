"""The widget's socket.io output: one event per reply with a card (no servers, no model)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.socketio import SocketIOOutput
from rasa.shared.core.events import BotUttered

from bot.rasa_ext.channels import OneEventSocketIOOutput

BUTTONS = [{"title": "开场白", "payload": "/request_opening"},
           {"title": "第一个卖点", "payload": "/request_next_advantage"}]
QUICK_REPLIES = [{"content_type": "text", **b} for b in BUTTONS]
CARD = {"type": "client_card", "client": {"name": "张三"}}


class RecordingServer:
    """Stands in for socketio.AsyncServer: keeps what was emitted."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str | None]] = []

    async def emit(self, event: str, data: Any = None, room: str | None = None, **kwargs: Any) -> None:
        self.emitted.append((event, data, room))


async def _sent(output_class: type[SocketIOOutput], **message: Any) -> list[tuple[str, Any, str | None]]:
    """What ``output_class`` emits for one bot message, given as Rasa's processor gives it."""
    sio = RecordingServer()
    bot_message = BotUttered(text=message.pop("text", None), data=message, metadata={"utter_action": "utter_x"})
    await output_class(sio, "bot_uttered").send_response("conv-1", bot_message.message())
    return sio.emitted


async def test_text_card_and_buttons_are_one_event():
    text = "张三，成长客户\n可推荐：白金信用卡"
    emitted = await _sent(OneEventSocketIOOutput, text=text, custom=CARD, buttons=BUTTONS)
    assert emitted == [("bot_uttered", {"text": text, "quick_replies": QUICK_REPLIES, "custom": CARD}, "conv-1")]


async def test_a_card_reply_is_not_split_into_paragraphs():
    emitted = await _sent(OneEventSocketIOOutput, text="第一段\n\n第二段\n", custom=CARD)
    assert emitted == [("bot_uttered", {"text": "第一段\n\n第二段", "custom": CARD}, "conv-1")]


async def test_a_card_without_text_and_quick_replies_first():
    emitted = await _sent(OneEventSocketIOOutput, custom=CARD, quick_replies=BUTTONS[:1], buttons=BUTTONS)
    assert emitted == [("bot_uttered", {"quick_replies": QUICK_REPLIES[:1], "custom": CARD}, "conv-1")]


async def test_an_image_beside_a_card_still_goes_out_as_rasa_sends_it():
    emitted = await _sent(OneEventSocketIOOutput, text="看图", custom=CARD, image="https://example.test/a.png")
    assert emitted == [("bot_uttered", {"text": "看图", "custom": CARD}, "conv-1"),
                       ("bot_uttered", {"attachment": {"type": "image", "payload": {"src": "https://example.test/a.png"}}},
                        "conv-1")]


@pytest.mark.parametrize("message", [
    {"text": "没有找到客户“王五”。"},                       # plain text
    {"text": "第一段\n\n第二段"},                            # paragraphs: an event each, as Rasa does
    {"text": "找到2位客户，请选一位：", "buttons": BUTTONS},    # text with buttons
    {"text": "第一段\n\n请选：", "buttons": BUTTONS},         # buttons on the last paragraph
])
async def test_replies_without_a_card_keep_rasas_events(message):
    assert await _sent(OneEventSocketIOOutput, **dict(message)) == await _sent(SocketIOOutput, **dict(message))
    assert all("custom" not in data for _event, data, _room in await _sent(OneEventSocketIOOutput, **dict(message)))


async def test_a_bare_custom_json_is_sent_as_custom():
    sio = RecordingServer()
    await OneEventSocketIOOutput(sio, "bot_uttered").send_custom_json("conv-1", CARD)
    assert sio.emitted == [("bot_uttered", {"custom": CARD}, "conv-1")]
