"""Extensions loaded by the Rasa server (custom channels, the rehearsal policy).

Rasa imports this package when it loads our channels (credentials.yml) or policy (config.yml), and
every model `salesbot train` makes names the policy, so the package is imported before a model's
components load: that is where a custom action that cannot reach the action server is made to say
so, where models are loaded for answering only (model_load.py), where a message's features are joined in
one step (features.py), where stored events find their classes faster (events.py), where the policies
share a turn's past states (states.py) and where the SQL tracker store does less per message
(tracker_store.py).
"""

from bot.rasa_ext.events import install as _install_event_lookup
from bot.rasa_ext.features import install as _install_feature_combining
from bot.rasa_ext.model_load import install as _install_answering_load
from bot.rasa_ext.remote_action import install as _install_resilient_remote_action
from bot.rasa_ext.server_start import install as _install_server_start
from bot.rasa_ext.states import install as _install_shared_past_states
from bot.rasa_ext.tracker_store import install as _install_lean_tracker_store

_install_answering_load()
_install_event_lookup()
_install_feature_combining()
_install_resilient_remote_action()
_install_server_start()
_install_shared_past_states()
_install_lean_tracker_store()
