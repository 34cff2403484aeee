"""`iom keys …`: API keys in the OS keyring. A value is read from a hidden prompt or stdin,
never from argv (where it would land in shell history and the process list)."""

from __future__ import annotations

import getpass
import sys

from studio.cli.common import print_json, print_table, studio
from studio.errors import UserError


def register(sub) -> None:
    keys = sub.add_parser("keys", help="API keys in the OS keyring").add_subparsers(dest="action", metavar="ACTION", required=True)

    p = keys.add_parser("set", help="store a key (value from a hidden prompt, or stdin when piped)")
    p.add_argument("name", help="key name, e.g. OPENAI_API_KEY")
    p.set_defaults(handler=_set)

    p = keys.add_parser("list", help="key names the registry refers to, and whether each is set")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = keys.add_parser("delete", help="delete a stored key")
    p.add_argument("name")
    p.set_defaults(handler=_delete)


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"value for {name} (hidden): ")
    return sys.stdin.read().strip()  # all of it: a second line is refused, not dropped without a word


def _set(args) -> int:
    s = studio()
    if not s.keys.available():
        s.keys.set(args.name, "x")  # raises the one-sentence "no keyring" UserError
    value = _read_value(args.name)
    if not value.strip():
        raise UserError(f"no value was given for {args.name}; nothing was stored.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (a key file saved as UTF-16) arrive as surrogates
        raise UserError(f"the value given for {args.name} is not UTF-8 text (a file saved as UTF-16?); "
                        f"nothing was stored.") from None
    if "\x00" in value:
        raise UserError(f"the value given for {args.name} holds a NUL byte, which no key has; nothing was stored.")
    dropped = s.set_key(args.name, value)
    print(f"stored {args.name} in the keyring ({s.keys.backend_name()})")
    _say_dropped(dropped)
    return 0


def _list(args) -> int:
    s = studio()
    names = set(s.keys.names())
    used_by: dict[str, list[str]] = {}
    for spec in s.models.all():
        if spec.key_ref:
            used_by.setdefault(spec.key_ref, []).append(spec.id)
    names |= used_by.keys()
    rows = []
    for name in sorted(names):
        st = s.keys.status(name)
        rows.append({"name": name, "set": st.is_set, "source": st.source, "usedBy": used_by.get(name, [])})
    if args.json:
        print_json({"backend": s.keys.backend_name(), "available": s.keys.available(), "keys": rows})
        return 0
    if not s.keys.available():
        print("note: no OS keyring is available; only environment variables are read.", file=sys.stderr)
    print_table([[r["name"], r["source"], ", ".join(r["usedBy"])] for r in rows], ["name", "status", "used by"])
    return 0


def _delete(args) -> int:
    dropped = studio().delete_key(args.name)
    print(f"deleted {args.name}")
    _say_dropped(dropped)
    return 0


def _say_dropped(dropped: list[str]) -> None:
    if dropped:
        print(f"the last health check of {', '.join(dropped)} no longer applies (it is unknown now); "
              "'iom models check ID' checks again", file=sys.stderr)
