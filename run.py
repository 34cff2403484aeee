"""Start IoM Studio: python run.py (IOM_HOST, IOM_PORT and IOM_HOME change where and what)."""

from studio.ui.app import serve

if __name__ in {"__main__", "__mp_main__"}:
    serve()
