"""Run the web app: python -m bot.web --port 8000."""

import argparse

from bot.web.app import create_app

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="0.0.0.0")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--rasa-url", default="http://127.0.0.1:5005")
args = parser.parse_args()
create_app(rasa_url=args.rasa_url).run(host=args.host, port=args.port, access_log=False, motd=False)
