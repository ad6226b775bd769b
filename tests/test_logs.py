"""Service logs: JSON lines in var/log, rotated, phone numbers masked, no secrets, a request id."""

from __future__ import annotations

import json
import logging
import logging.handlers

import pytest

from bot import logs


@pytest.mark.parametrize(("line", "hidden", "kept"), [
    # a client's mobile number: first three and last four digits, as non-owners see it
    ("查一下13800000001", "13800000001", "138****0001"),
    ("客户号码 +86 13912345678 换了", "13912345678", "139****5678"),
    ("查8613800000001", "13800000001", "138****0001"),
    ("查 138 0000 0001", "0000 0001", "138****0001"),
    ("查138-0000-0001", "0000-0001", "138****0001"),
    ("查１３８０００００００１", "１３８０００００００１", "138****0001"),  # full-width digits
    # bearer tokens and signed tokens (payload.signature) never reach a log
    ("Authorization: Bearer abcdefghijklmnop.qrstuvwxyz0123456789", "abcdefghijklmnop", "Bearer ***"),
    ("cookie salesbot_session=eyJsb2dpbiI6ImFnZW50MDEi.fQ9Zq3bXk1mN8pLr2sT5uV7w", "fQ9Zq3bXk1mN8pLr2sT5uV7w",
     "***token***"),
    ("SALESBOT_SECRET=s3cr3t-value", "s3cr3t-value", "SECRET=***"),
    ("postgresql://salesbot:hunter2@db:5432/crm", "hunter2", "salesbot:***@db"),
])
def test_masking(line, hidden, kept):
    masked = logs.mask(line)
    assert hidden not in masked and kept in masked


def test_masking_leaves_ordinary_numbers_and_ids_alone():
    line = "call 42 of conversation 3f2a9c1e7b6d4e0f8a1b2c3d4e5f6a7b, amount 500000, 2026-11-23 10:00"
    assert logs.mask(line) == line


def test_a_service_writes_rotated_json_lines_with_the_request_id(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path))
    handler = logs.setup("unit")
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == logs.BACKUPS
        assert logs.setup("unit") is handler  # once per service
        request_id = logs.new_request_id("req-123")
        logging.getLogger("salesbot.test").warning("client 13800000001 called back")
        assert logs.new_request_id("bad id with spaces") != "bad id with spaces"
        handler.flush()
        line = json.loads((tmp_path / "log" / "unit.log").read_text(encoding="utf-8").splitlines()[-1])
        assert line["request_id"] == request_id == "req-123"
        assert line["service"] == "unit" and line["level"] == "WARNING"
        assert line["msg"] == "client 138****0001 called back"
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
