"""The team's accounts and the product catalogue, for supervisors (the 账号 and 产品 tabs): the routes
only check access and CSRF and call the core (bot/book/people.py, bot/book/products.py), which
validates, writes and records the change in one transaction."""

from __future__ import annotations

from urllib.parse import unquote

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, crm, masking
from bot.auth import Identity
from bot.book import people, products
from bot.playbook import playbook
from bot.web.api.common import api, csrf_ok_for, error_json, in_session, json_body, list_reply, refusal
from bot.web.session import NO_STORE, require_identity

# Each area: who may use it (bot/access.py) and the messages.yml section with its refusal.
ACCOUNTS = (access.may_manage_accounts, "account_texts")
PRODUCTS = (access.may_manage_products, "product_texts")


def _refused(request: Request, identity: Identity, area, write: bool = False) -> response.HTTPResponse | None:
    """The refusal of a request to ``area``: not a supervisor (403, Chinese), or a write from the page
    without its CSRF token; None if it may go on."""
    allowed, texts = area
    if not allowed(identity):
        return error_json(getattr(playbook().messages, texts)["supervisors_only"], 403)
    if write and not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    return None


async def _listing(request: Request, identity: Identity, area, rows) -> response.HTTPResponse:
    """``rows(session)`` for a supervisor, as they may read it."""
    if refused := _refused(request, identity, area):
        return refused
    return await list_reply(lambda session: response.json(masking.for_reader(session, identity, rows(session))))


def _by(identity: Identity, work):
    """``work(session, by)`` with ``by`` the supervisor's account (who the change log names)."""
    return lambda session: work(session, crm.get_user(session, identity.login))


# --- accounts ---------------------------------------------------------------------------------

@api.get("/team/users")
@require_identity
async def list_accounts(request: Request, identity: Identity):
    """Every account with its role, status, clients assigned and last conversation."""
    return await _listing(request, identity, ACCOUNTS, people.accounts)


async def _account_action(request: Request, identity: Identity, action) -> response.HTTPResponse:
    """Run ``action(session, by)`` -> (account json, one-time password or None, HTTP status) for a
    supervisor; a refusal leaves the transaction rolled back."""
    if refused := _refused(request, identity, ACCOUNTS, write=True):
        return refused
    try:
        account, one_time, status = await in_session(_by(identity, action))
    except people.AccountError as error:
        return error_json(str(error), error.status)
    body = {"user": account}
    if one_time is not None:  # shown once: never stored in clear, never in a log or a cache
        body["one_time_password"] = one_time
    return response.json(body, status=status, headers=NO_STORE)


@api.post("/team/users")
@require_identity
async def create_account(request: Request, identity: Identity):
    """``{"login", "name", "role"}`` -> the new account and its one-time password (201)."""
    body = json_body(request)

    def action(session: Session, by):
        issued = people.create(session, by=by, login=body.get("login"), name=body.get("name"), role=body.get("role"))
        return people.account_json(issued.user), issued.one_time_password, 201

    return await _account_action(request, identity, action)


@api.post("/team/users/<login:str>/disable")
@require_identity
async def disable_account(request: Request, login: str, identity: Identity):
    """Deactivate: every session and token stops at once; their clients go back to the pool."""

    def action(session: Session, by):
        user, returned = people.disable(session, by=by, login=unquote(login))
        return {**people.account_json(user), "returned_to_pool": returned}, None, 200

    return await _account_action(request, identity, action)


@api.post("/team/users/<login:str>/enable")
@require_identity
async def enable_account(request: Request, login: str, identity: Identity):
    def action(session: Session, by):
        return people.account_json(people.enable(session, by=by, login=unquote(login))), None, 200

    return await _account_action(request, identity, action)


@api.post("/team/users/<login:str>/reset")
@require_identity
async def reset_account(request: Request, login: str, identity: Identity):
    """A new one-time password (shown once); every session and token of the account is revoked."""

    def action(session: Session, by):
        issued = people.reset(session, by=by, login=unquote(login))
        return people.account_json(issued.user), issued.one_time_password, 200

    return await _account_action(request, identity, action)


# --- products ---------------------------------------------------------------------------------

@api.get("/products")
@require_identity
async def list_products(request: Request, identity: Identity):
    """Every product (active first) with all its fields, as the 产品 tab edits them."""
    return await _listing(request, identity, PRODUCTS,
                          lambda session: [products.product_json(p) for p in products.listing(session)])


async def _product_save(request: Request, identity: Identity, save, status: int) -> response.HTTPResponse:
    """``save(session, by, body)`` -> the product, for a supervisor; a refusal writes nothing."""
    if refused := _refused(request, identity, PRODUCTS, write=True):
        return refused
    body = json_body(request)

    def work(session: Session, by):
        return masking.for_reader(session, identity, products.product_json(save(session, by, body)))

    try:
        saved = await in_session(_by(identity, work))
    except products.ProductError as error:
        # Each field's reason, shown beside it on the form ("selling_points.2" for the third point).
        return response.json({"error": str(error), "problems": error.problems}, status=error.status)
    return response.json(saved, status=status)


@api.post("/products")
@require_identity
async def create_product(request: Request, identity: Identity):
    """A new product (201), checked by the compliance module before it is saved."""
    return await _product_save(request, identity, lambda session, by, body: products.create(
        session, by=by, body=body), 201)


@api.route("/products/<code:str>", methods=["PUT", "POST"])
@require_identity
async def update_product(request: Request, code: str, identity: Identity):
    """Save the product's fields (those left out keep their values); ``"active": false`` takes it off
    every conversation from the next message."""
    return await _product_save(request, identity, lambda session, by, body: products.update(
        session, by=by, code=unquote(code), body=body)[0], 200)
