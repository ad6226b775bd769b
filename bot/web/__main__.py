"""Run the web app: python -m bot.web --port 8000."""

import argparse
import logging

from bot import logs
from bot.playbook import playbook
from bot.settings import listen_address, require_strong_secret
from bot.web.app import create_app

parser = argparse.ArgumentParser()
# Loopback unless SALESBOT_LISTEN says otherwise (salesbot run refuses a wider address while
# a demo account keeps its published password).
parser.add_argument("--host", default=listen_address())
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--rasa-url", default=":5005",
                    help="where browsers find the chat: ':PORT' (the page's host on that port), "
                         "'/' (the page's own origin, behind an entry point) or a full URL")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logs.setup("web")
require_strong_secret()
# Loaded before the app answers /health: every page and API answer reads it, and loading it checks every
# line with the compliance judge (seconds), which the first supervisor or agent would otherwise wait for.
playbook()
create_app(rasa_url=args.rasa_url).run(host=args.host, port=args.port, access_log=False, motd=False)
