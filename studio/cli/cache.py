"""`iom cache show [--json]`, `iom cache clear [--model ID] [--older-than DAYS] [--json]` and
`iom cache max-age DAYS|off`: the node outputs the studio reuses instead of calling a model
again (deterministic calls, and nodes whose policy asks), what is kept, how to drop it, and
for how long a remote model's output is reused (a provider may change what stands behind a
model id; a wish to measure again is a reason to clear)."""

from __future__ import annotations

import argparse
import math
from datetime import datetime

from studio.cli.common import print_json, print_table, studio
from studio.formats import data_size


def register(sub) -> None:
    cache = sub.add_parser("cache", help="the cached node outputs: what is kept, and clearing it").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = cache.add_parser("show", help="entries and size, in all and per model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)
    p = cache.add_parser("clear", help="drop cached outputs: all, one model's, or the older ones")
    p.add_argument("--model", metavar="ID", help="only this model's outputs")
    p.add_argument("--older-than", metavar="DAYS", type=_days, help="only outputs cached more than DAYS days ago")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_clear)
    p = cache.add_parser("max-age", help="how long a remote model's cached output is reused (default 7 days)")
    p.add_argument("days", type=_max_age, metavar="DAYS|off", help="days (e.g. 7 or 0.5), or 'off' to reuse until cleared")
    p.set_defaults(handler=_max_age_set)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days; give one like 7 or 0.5")
    return days


def _max_age(text: str) -> float | None:
    if text.strip().lower() == "off":
        return None
    days = _days(text)
    if days == 0:
        raise argparse.ArgumentTypeError("0 days would never reuse an output; give a number of days, or 'off'")
    return days


def _max_age_set(args) -> int:
    from studio.engine.cache_settings import CacheSettings, save_cache_settings, settings_path

    home = studio().home
    save_cache_settings(home, CacheSettings(remote_max_age_days=args.days))
    print(f"{_reuse_sentence(args.days)} (saved in {settings_path(home)}).")
    return 0


def _reuse_sentence(days: float | None) -> str:
    if days is None:
        return "a remote model's cached output is reused until cleared"
    return f"a remote model's cached output is reused for {days:g} day(s), then the model is called again"


def _cache():
    from studio.engine.output_cache import OutputCache, cache_path

    return OutputCache(cache_path(studio().home))


def _show(args) -> int:
    from studio.engine.cache_settings import load_cache_settings

    days = load_cache_settings(studio().home).remote_max_age_days
    with _cache() as cache:
        summary = cache.summary()
    if args.json:
        print_json({**summary, "remoteMaxAgeDays": days})
        return 0
    _say_set_aside(summary["setAside"])
    print(f"{summary['path']}: {summary['entries']:,} cached output(s), {data_size(summary['bytes'])} of content, "
          f"{data_size(summary['fileBytes'])} on disk (bounded at {summary['maxEntries']:,} entries and "
          f"{data_size(summary['maxBytes'])}; the least recently used go first)")
    print(f"{_reuse_sentence(days)}; a built-in model's until cleared ('iom cache max-age DAYS|off' changes it).")
    print_table([[m["model"] or "(unknown: cached by an earlier version)", f"{m['entries']:,}", data_size(m["bytes"]),
                  _when(m["oldest"]), _when(m["newest"])] for m in summary["models"]],
                ["model", "entries", "size", "oldest", "newest"])
    return 0


def _clear(args) -> int:
    with _cache() as cache:
        removed = cache.clear(model=args.model, older_than_s=None if args.older_than is None else args.older_than * 86400)
        aside = cache.set_aside
        summary = cache.summary()
    aside = summary["setAside"] or (aside and str(aside))
    left = summary["entries"]
    if args.json:
        print_json({"removed": removed, "remaining": left, **({"setAside": aside} if aside else {})})
        return 0
    _say_set_aside(aside)
    which = " of " + args.model if args.model else ""
    age = f" cached more than {args.older_than:g} day(s) ago" if args.older_than is not None else ""
    print(f"removed {removed:,} cached output(s){which}{age}; {left:,} remain.")
    return 0


def _say_set_aside(aside: str | None) -> None:
    if aside:
        print(f"the cache file was damaged: set aside as {aside} (delete it when you like) and started again empty.")


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M") if epoch else "-"
