"""Start IoM Studio: python run.py [--host HOST] [--port PORT] (IOM_HOST, IOM_PORT and IOM_HOME
change where and what; ./scripts/start passes its arguments here)."""

import gc
import os
import sys

# The imports below make ~90,000 objects that live as long as the server; the collector's
# passes among them while they are made took ~60 ms of a ~0.8 s start. serve() moves them out
# of its view (gc.freeze) and turns it back on.
gc.disable()


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 65535")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/start", description="Start IoM Studio in the browser.")
    parser.add_argument("--host", help="address to listen on (default IOM_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port (default IOM_PORT or 8080)")
    args = parser.parse_args(argv)
    try:
        if argv is None:  # the command line itself (not NiceGUI's test harness, whose signals are pytest's)
            from studio.cli import stop_as_ctrl_c

            stop_as_ctrl_c()
        from studio.ui.app import serve
    except KeyboardInterrupt:  # Ctrl+C while it loads, before serve() can say so itself
        print("IoM Studio stopped.", file=sys.stderr)
        return
    serve(host=args.host, port=args.port)


if __name__ in {"__main__", "__mp_main__"}:
    # NiceGUI's test harness runs this file inside pytest, whose arguments are not ours
    main([] if "PYTEST_CURRENT_TEST" in os.environ else None)
