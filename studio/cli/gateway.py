"""`iom gateway token [--new]`: the token that /v1 (the OpenAI- and Anthropic-compatible
gateway) and the studio's local API require; give it to an SDK as its api_key."""

from __future__ import annotations

import sys

from studio.cli.common import studio


def register(sub) -> None:
    gateway = sub.add_parser("gateway", help="the gateway's access token").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = gateway.add_parser("token", help="print the gateway token (what SDKs send as api_key)")
    p.add_argument("--new", action="store_true", help="replace it; the old token stops working")
    p.set_defaults(handler=_token)


def _token(args) -> int:
    from studio.security.token import gateway_token, new_gateway_token, where_kept

    s = studio()
    token = new_gateway_token(s.home, s.keys) if args.new else gateway_token(s.home, s.keys)
    print(token)
    if sys.stderr.isatty() or args.new:
        print(f"(kept in {where_kept(s.home, s.keys)}"
              + ("; the old token no longer works" if args.new else "") + ")", file=sys.stderr)
    return 0
