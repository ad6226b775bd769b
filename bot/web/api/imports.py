"""Imports for supervisors (issue 21): a client sheet or the bank's opt-out register uploaded from the
导入 tab, previewed, corrected and written (bot/book/importer.py); the list of past imports and each
one's report as CSV.

The upload routes stream their body: the app reads at most MAX_BODY_BYTES (1 MB) for every other
route, and only these read up to MAX_UPLOAD_BYTES (20 MB), counted as the body arrives."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote

from sanic import response
from sanic.request import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import access, crm, masking
from bot.auth import Identity
from bot.book import importer, sheets
from bot.book.import_results import batches, record_unread, report_csv
from bot.db import sessions, unreachable
from bot.models import ImportBatch
from bot.playbook import playbook
from bot.web.api.common import api, csrf_ok_for, error_json, in_session, refusal
from bot.web.session import require_identity

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the file; the form around it may add a little
FORM_ROOM = 256 * 1024  # the multipart headers and the other fields (fixes)
IMPORT_SECONDS = 600  # how long an import may take before the connection gives up (the app's default: 60 s)
ROUTE_KINDS = {"clients": "clients", "dnc": "do_not_call"}
logger = logging.getLogger(__name__)


def _texts() -> dict[str, str]:
    return playbook().messages.import_texts


def _too_large() -> response.HTTPResponse:
    return error_json(_texts()["too_large"].format(limit=MAX_UPLOAD_BYTES // (1024 * 1024)), 413)


async def _read_body(request: Request) -> bool:
    """Read the streamed body into ``request.body``, up to the limit; False if it is larger."""
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + FORM_ROOM:
        return False  # refused before reading: Sanic drops the connection after answering
    chunks, size = [], 0
    while (chunk := await request.stream.read()) is not None:
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES + FORM_ROOM:
            return False
        chunks.append(chunk)
    request.body = b"".join(chunks)
    return True


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _run(identity: Identity, kind: str, data: bytes, filename: str, fixes: dict[int, dict[str, str]],
         dry_run: bool, write_valid: bool) -> tuple[dict[str, Any], int]:
    """Read, check and (unless a dry run) write, in one transaction; every attempt leaves a batch row."""
    try:
        sheet = sheets.read_sheet(data, filename)
    except sheets.SheetError as error:
        with sessions().begin() as session:
            record_unread(session, kind, filename, crm.get_user(session, identity.login), "refused", str(error))
        return {"error": str(error)}, 400
    try:
        with sessions().begin() as session:
            outcome = importer.run_import(session, kind, sheet, user=crm.get_user(session, identity.login),
                                          fixes=fixes, dry_run=dry_run, write_valid=write_valid, record=True)
            return masking.for_reader(session, identity, outcome.as_json()), 200
    except SQLAlchemyError as error:
        if unreachable(error):
            raise
        # Rolled back as a whole; the attempt is kept, the reason goes to the log only.
        logger.warning("import of %s by %s rolled back: %s", kind, identity.login, type(error).__name__)
        with sessions().begin() as session:
            record_unread(session, kind, filename, crm.get_user(session, identity.login), "failed",
                          _texts()["write_failed"])
        return {"error": _texts()["write_failed"]}, 500


async def _upload(request: Request, identity: Identity, route_kind: str) -> response.HTTPResponse:
    if not access.may_import(identity):
        return error_json(_texts()["supervisors_only"], 403)
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    if not await _read_body(request):
        return _too_large()
    upload = request.files.get("file") if request.files else None
    if upload is None or not upload.body:
        return error_json(_texts()["no_file"], 400)
    if len(upload.body) > MAX_UPLOAD_BYTES:
        return _too_large()
    kind = ROUTE_KINDS[route_kind]
    form = request.form or {}
    try:
        fixes = importer.parse_fixes(json.loads(form.get("fixes") or "null"), kind)
    except ValueError:  # json.JSONDecodeError too
        return error_json(_texts()["bad_fixes"], 400)
    _patient(request)
    filename = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1] or "-"  # old browsers send a path
    reply, status = await asyncio.to_thread(_run, identity, kind, upload.body, filename, fixes,
                                            _flag(form.get("dry_run")), _flag(form.get("write_valid")))
    return response.json(reply, status=status)


def _patient(request: Request) -> None:
    """Let this request's connection wait up to IMPORT_SECONDS for the answer. Past Sanic's
    RESPONSE_TIMEOUT (checked from the last byte received) it would answer 503 and drop the request
    while the import's thread goes on and commits: the supervisor would read a failure for an import
    that was written. Only this connection waits longer (kept for its later requests: restoring it
    before the answer is written would bring the drop back); the app's limit stays for all others."""
    protocol = request.transport.get_protocol() if request.transport is not None else None
    if isinstance(getattr(protocol, "response_timeout", None), (int, float)):
        protocol.response_timeout = max(protocol.response_timeout, IMPORT_SECONDS)


@api.post("/imports/clients", stream=True)
@require_identity
async def import_clients(request: Request, identity: Identity):
    """Multipart: ``file`` (.xlsx or .csv); ``dry_run``, ``write_valid`` (1/0); ``fixes`` (JSON
    ``{row_number: {field: value}}``). The preview or the result, with every refused row's problems."""
    return await _upload(request, identity, "clients")


@api.post("/imports/dnc", stream=True)
@require_identity
async def import_do_not_call(request: Request, identity: Identity):
    """The bank's opt-out register (手机号, optionally 姓名 and 登记日期): matching clients become 勿扰."""
    return await _upload(request, identity, "dnc")


@api.get("/imports")
@require_identity
async def list_imports(request: Request, identity: Identity):
    """Past imports, newest first: who, when, the counts and whether a report is there."""
    if not access.may_import(identity):
        return error_json(_texts()["supervisors_only"], 403)
    return response.json(await in_session(batches))


@api.get("/imports/<import_id:int>/report.csv")
@require_identity
async def import_report(request: Request, import_id: int, identity: Identity):
    """The refused rows of one import (and the numbers with no client), for Excel: phones masked."""
    if not access.may_import(identity):
        return error_json(_texts()["supervisors_only"], 403)

    def work(session: Session):
        batch = session.get(ImportBatch, import_id)
        return None if batch is None else (batch.filename, report_csv(batch))

    found = await in_session(work)
    if found is None:
        return error_json(_texts()["no_such_import"], 404)
    filename, text = found
    stem = quote(filename.rsplit(".", 1)[0][:100], safe="")
    return response.text(text, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"import-{import_id}-report.csv\"; "
                               f"filename*=UTF-8''{stem}-report.csv"})
