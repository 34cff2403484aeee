"""`iom cache show [--json]` and `iom cache clear [--model ID] [--older-than DAYS] [--json]`:
the node outputs the studio reuses instead of calling a model again (deterministic calls, and
nodes whose policy asks), what is kept and how to drop it. A provider that changes what stands
behind a model id, or a wish to measure again, is a reason to clear."""

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


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days; give one like 7 or 0.5")
    return days


def _cache():
    from studio.engine.output_cache import OutputCache, cache_path

    return OutputCache(cache_path(studio().home))


def _show(args) -> int:
    with _cache() as cache:
        summary = cache.summary()
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['path']}: {summary['entries']:,} cached output(s), {data_size(summary['bytes'])} of content, "
          f"{data_size(summary['fileBytes'])} on disk (bounded at {summary['maxEntries']:,} entries and "
          f"{data_size(summary['maxBytes'])}; the least recently used go first)")
    print_table([[m["model"] or "(unknown: cached by an earlier version)", f"{m['entries']:,}", data_size(m["bytes"]),
                  _when(m["oldest"]), _when(m["newest"])] for m in summary["models"]],
                ["model", "entries", "size", "oldest", "newest"])
    return 0


def _clear(args) -> int:
    with _cache() as cache:
        removed = cache.clear(model=args.model, older_than_s=None if args.older_than is None else args.older_than * 86400)
        left = cache.summary()["entries"]
    if args.json:
        print_json({"removed": removed, "remaining": left})
        return 0
    which = " of " + args.model if args.model else ""
    age = f" cached more than {args.older_than:g} day(s) ago" if args.older_than is not None else ""
    print(f"removed {removed:,} cached output(s){which}{age}; {left:,} remain.")
    return 0


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M") if epoch else "-"
