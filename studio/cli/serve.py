"""`iom serve`: start the studio's web app."""

from __future__ import annotations

from studio.cli.common import whole_number


def register(sub) -> None:
    p = sub.add_parser("serve", help="start the studio in the browser (127.0.0.1:8080 by default)")
    p.add_argument("--host", help="address to listen on (default IOM_HOST or 127.0.0.1)")
    p.add_argument("--port", type=whole_number(1, 65535), help="port (default IOM_PORT or 8080)")
    p.set_defaults(handler=_serve)


def _serve(args) -> int:
    from studio.ui.app import serve

    serve(host=args.host, port=args.port)  # (Ctrl+C stops it, said in one line)
    return 0
