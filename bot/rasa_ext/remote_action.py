"""Custom actions that fail say so: the agent learns the CRM is unavailable, not just silence.

Rasa's ``RemoteAction.run`` raises when the action server cannot be reached (down, timing out,
answering 5xx); the processor logs it and carries on with no events, so the REST channel
returns ``[]`` and the widget waits for its 30-second timeout. An agent cannot tell that an
outcome was not saved. Rasa has no hook for this, so the Rasa process wraps ``RemoteAction.run``
once (``install``, called when our channels load): on such a failure the action's result is
one bot message telling the agent that nothing was done and what to do now.

A 400 (``ActionExecutionRejection``) keeps Rasa's own handling: it is a rejection, not an outage.

The same install checks the action server's replies with a schema validator built once:
Rasa's ``jsonschema.validate`` rebuilds it for every reply (about 15 ms, a third of the Rasa
server's time per message under load, measured with py-spy by `make bench PROFILE=1`).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.events import BotUttered

logger = logging.getLogger(__name__)

UNAVAILABLE_TYPE = "service_unavailable"


def unavailable_message(action_name: str) -> BotUttered:
    """What the agent reads when ``action_name`` could not run (text from the playbook)."""
    from bot.playbook import playbook

    text = playbook().messages["actions_unavailable"]
    return BotUttered(text=text, data={"custom": {"type": UNAVAILABLE_TYPE, "service": "actions",
                                                  "action": action_name}})


@functools.lru_cache(maxsize=1)
def _response_validator():
    from jsonschema.validators import validator_for

    spec = RemoteAction.action_response_format_spec()
    validator = validator_for(spec)
    validator.check_schema(spec)
    return validator(spec)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server reply (same errors, same message), with a cached validator."""
    from jsonschema.exceptions import best_match

    error = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid.")
        raise error
    return True


def install() -> None:
    """Wrap ``RemoteAction.run`` and speed up its reply check (idempotent)."""
    if getattr(RemoteAction.run, "_salesbot_resilient", False):
        return
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    original = RemoteAction.run

    @functools.wraps(original)
    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> list:
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception:  # noqa: BLE001 - any failure to reach the action server
            logger.exception("custom action %s failed: the action server is unreachable or broken",
                             self.name())
            return [unavailable_message(self.name())]

    run._salesbot_resilient = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]
