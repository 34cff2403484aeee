"""Start IoM Studio: python run.py (IOM_HOST, IOM_PORT and IOM_HOME change where and what)."""

import gc

# The imports below make ~90,000 objects that live as long as the server; the collector's
# passes among them while they are made took ~60 ms of a ~0.8 s start. serve() moves them out
# of its view (gc.freeze) and turns it back on.
gc.disable()

from studio.ui.app import serve  # noqa: E402

if __name__ in {"__main__", "__mp_main__"}:
    serve()
