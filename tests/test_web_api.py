"""The web app's login, token and JSON API against the running services, with the access rules."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import api_token

pytestmark = pytest.mark.e2e


def get(servers, path: str, login: str | None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {api_token(servers, login)}"} if login else {}
    return requests.get(f"{servers['web']}{path}", headers=headers, params=params, timeout=30)


def chat(servers, sender: str, login: str, *lines: str) -> None:
    token = api_token(servers, login)
    for line in lines:
        reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=60,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"sender": sender, "message": line})
        reply.raise_for_status()


@pytest.fixture(scope="module")
def logged_call(servers):
    chat(servers, "api-call-1", "agent01", "查一下李四", "客户说她在开车", "记一下，客户有意向")
    return "api-call-1"


def test_token_carries_the_role(servers):
    reply = requests.post(f"{servers['web']}/api/token", json={"login": "super01", "password": "demo-super"},
                          timeout=10)
    assert reply.status_code == 200 and reply.json()["role"] == "supervisor" and reply.json()["token"]


@pytest.mark.parametrize("path", ["/api/calls", "/api/followups", "/api/clients/1", "/api/conversations/x"])
def test_api_needs_a_token(servers, path):
    assert get(servers, path, None).status_code == 401


def test_client_profile_and_phone_masking(servers):
    own = get(servers, "/api/clients/13800000001", "agent01")
    assert own.status_code == 200 and own.json()["phone"] == "13800000001" and own.json()["name"] == "张三"
    # Another agent's number: as if it did not exist (nobody learns whose number it is).
    assert get(servers, "/api/clients/13800000001", "agent02").status_code == 404
    supervisor = get(servers, "/api/clients/13800000001", "super01").json()
    assert supervisor["phone"] == "138****0001"
    assert get(servers, "/api/clients/13999999999", "super01").status_code == 404


def test_calls_follow_the_access_rules(servers, logged_call):
    mine = get(servers, "/api/calls", "agent01", client="李四").json()
    assert [c["conversation_id"] for c in mine] == [logged_call]
    call = mine[0]
    assert call["outcome"] == "interested" and call["agent"] == "agent01" and call["client"] == "李四"
    assert call["objections"] == ["objection_busy"] and call["started_at"]
    assert get(servers, "/api/calls", "agent02", client="李四").json() == []
    assert logged_call in [c["conversation_id"] for c in get(servers, "/api/calls", "super01").json()]
    assert get(servers, "/api/calls", "super01", outcome="refused", client="李四").json() == []
    bad = get(servers, "/api/calls", "super01", outcome="maybe")
    assert bad.status_code == 400 and "未知" in bad.json()["error"]


def test_full_text_search_finds_the_conversation(servers, logged_call):
    found = get(servers, "/api/calls", "super01", q="开车").json()
    assert logged_call in [c["conversation_id"] for c in found]
    assert get(servers, "/api/calls", "super01", q="完全不存在的词").json() == []


def test_followups_due_today(servers, logged_call):
    rows = get(servers, "/api/followups", "agent01", due="all").json()
    assert any(r["client"] == "李四" and r["due_at"] and r["reason"] for r in rows)
    assert not any(r["client"] == "李四" for r in get(servers, "/api/followups", "agent02", due="all").json())


def test_transcript_for_owner_and_supervisor_only(servers, logged_call):
    own = get(servers, f"/api/conversations/{logged_call}", "agent01")
    assert own.status_code == 200
    body = own.json()
    users = [t for t in body["turns"] if t["speaker"] == "user"]
    assert [t["text"] for t in users] == ["查一下李四", "客户说她在开车", "记一下，客户有意向"]
    assert users[1]["intent"] == "objection_busy" and 0 < users[1]["confidence"] <= 1
    assert any(t["speaker"] == "action" and t["text"] == "action_handle_objection" for t in body["turns"])
    assert body["call"]["outcome"] == "interested"
    assert get(servers, f"/api/conversations/{logged_call}", "super01").status_code == 200
    forbidden = get(servers, f"/api/conversations/{logged_call}", "agent02")
    assert forbidden.status_code == 403 and "无权" in forbidden.json()["error"]


def test_csv_export(servers, logged_call):
    reply = get(servers, "/api/calls.csv", "super01", client="李四")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    text = reply.content.decode("utf-8-sig")
    assert "李四" in text and logged_call in text


def test_login_form_needs_its_csrf_token(servers):
    session = requests.Session()
    page = session.get(servers["web"], timeout=10)
    assert page.status_code == 200 and 'name="csrf"' in page.text
    forged = requests.post(f"{servers['web']}/login", data={"login": "agent01", "password": "demo-agent"},
                           timeout=10, allow_redirects=False)
    assert forged.status_code == 403
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    ok = session.post(f"{servers['web']}/login", timeout=10, allow_redirects=False,
                      data={"login": "agent01", "password": "demo-agent", "csrf": csrf})
    assert ok.status_code in (302, 303) and "salesbot_session" in session.cookies
    assert session.get(f"{servers['web']}/api/calls", timeout=10).status_code == 200


def test_a_complaint_goes_from_the_chat_to_the_supervisors_list(servers):
    """Issue 19: the customer complains, the agent presses one button, the supervisor sees it open,
    answers and resolves it; agents cannot read the list."""
    token = api_token(servers, "agent01")

    def say(text: str) -> list[dict]:
        reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=60,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"sender": "api-complaint-1", "message": text})
        reply.raise_for_status()
        return reply.json()

    say("查一下张三")
    answer = say("客户说上个月乱扣我年费，到现在都没退")
    script = next(m for m in answer if (m.get("custom") or {}).get("type") == "script")
    assert script["custom"]["key"] == "customer_complaint", answer
    button = next(b for m in answer for b in m.get("buttons") or [] if b["title"].startswith("记录投诉"))
    assert button["title"] == "记录投诉（费用扣款）"
    recorded = say(button["payload"])
    assert any("已记录张三的投诉" in (m.get("text") or "") for m in recorded), recorded
    held = say("再讲一个卖点")  # no sales line in this call after a complaint
    assert any("本通电话先不推销" in (m.get("text") or "") for m in held), held

    assert get(servers, "/api/complaints", "agent01").status_code == 403
    listed = get(servers, "/api/complaints", "super01")
    assert listed.status_code == 200
    mine = [c for c in listed.json() if c["conversation_id"] == "api-complaint-1"]
    assert [(c["client"], c["category"], c["status"]) for c in mine] == [("张三", "fee", "open")]
    assert "上个月乱扣我年费" in mine[0]["text"] and mine[0]["created_at"]
    boss = {"Authorization": f"Bearer {api_token(servers, 'super01')}"}
    resolved = requests.post(f"{servers['web']}/api/complaints/{mine[0]['id']}/notes", headers=boss, timeout=30,
                             json={"note": "已核实并退回年费，已电话告知客户", "resolve": True})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.json()["minutes_to_first_response"] is not None
    again = requests.post(f"{servers['web']}/api/complaints/{mine[0]['id']}/notes", headers=boss, timeout=30,
                          json={"note": "再补一句", "resolve": False})
    assert again.status_code == 400 and "已经解决" in again.json()["error"]
