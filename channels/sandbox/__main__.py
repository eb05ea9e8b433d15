"""Run the sandbox X platform until interrupted.

    python -m channels.sandbox --host 127.0.0.1 --port 8025 --state var/sandbox.json \\
        --generate-every 20 --seed 1
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from channels.sandbox.accounts import DEMO_USERNAME
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS
from channels.sandbox.server import SandboxServer
from channels.sandbox.webhooks import WebhookDeliverer


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m channels.sandbox",
        description="A local imitation of the X API v2 for the Webcare inbox.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8025, help="port (0 picks a free one)")
    parser.add_argument(
        "--state",
        default="var/sandbox.json",
        help="JSON file that keeps tweets across restarts; pass '' to keep nothing",
    )
    parser.add_argument(
        "--generate-every",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="add a generated citizen message about this often; 0 switches it off",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the message generator")
    parser.add_argument(
        "--no-history",
        dest="seed_history",
        action="store_false",
        help="start empty instead of with a few days of generated messages",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    parser.add_argument(
        "--facebook-webhook-url",
        default="",
        metavar="URL",
        help="deliver Graph webhooks of new comments and messages here, signed, like Meta "
        "(e.g. http://127.0.0.1:8000/webhooks/facebook/demodorp-facebook/)",
    )
    parser.add_argument(
        "--facebook-verify-token",
        default="",
        help="the channel's verify_token, for the subscription handshake before delivering",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    server = SandboxServer(
        host=arguments.host,
        port=arguments.port,
        state_path=arguments.state or None,
        generate_every=arguments.generate_every,
        seed_history=arguments.seed_history,
        seed=arguments.seed,
        quiet=arguments.quiet,
    )
    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop_requested.set()

    # SIGTERM is how process managers (and `make` on Ctrl-C in a child) ask us to stop;
    # handling it like SIGINT lets the state file be closed cleanly either way.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    server.start()
    print(
        f"Sandbox platform (X, Facebook, Mastodon) on {server.url} (account @{DEMO_USERNAME})",
        flush=True,
    )
    if arguments.facebook_webhook_url:
        deliverer = WebhookDeliverer(
            arguments.facebook_webhook_url,
            app_secret=FACEBOOK_CREDENTIALS["app_secret"],
            verify_token=arguments.facebook_verify_token,
        )
        if arguments.facebook_verify_token and not deliverer.verify():
            print("Webhook handshake refused; delivering anyway.", file=sys.stderr, flush=True)
        server.on_facebook_event = deliverer
    # Waiting with a timeout keeps the main thread responsive to signals on every platform.
    while not stop_requested.wait(timeout=1.0):
        pass
    server.stop()
    print("Sandbox platform stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
