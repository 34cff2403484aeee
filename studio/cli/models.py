"""`iom models …`: list, show, add, remove, import, export, discover."""

from __future__ import annotations

import sys
from typing import get_args

from studio.atomic import dumps_stable
from studio.cli.common import amount, print_json, print_table, studio, whole_number, write_output
from studio.errors import UserError
from studio.providers.faults import label as fault_label
from studio.registry import ModelQuery, read_json_file
from studio.registry.search import expected_latency, latency_label, price_label
from studio.spec.model import HealthState


def register(sub) -> None:
    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", metavar="ACTION", required=True)

    p = models.add_parser("list", help="list models, optionally filtered")
    p.add_argument("--search", "-s", default="", help="free text")
    p.add_argument("--capability")
    p.add_argument("--type", dest="model_type")
    p.add_argument("--provider")
    p.add_argument("--tag")
    p.add_argument("--max-price", type=amount,
                   help="USD per million tokens (a model that charges per call has no such price and is left out)")
    p.add_argument("--max-latency", type=whole_number(0),
                   help="milliseconds: the measured p50 of recent calls where there is one, else the declared latency (as capability routing)")
    p.add_argument("--policy", choices=["public", "organization", "private"])
    p.add_argument("--health", choices=get_args(HealthState))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = models.add_parser("show", help="show one model")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = models.add_parser("add", help="add models from a JSON file (fails if an id exists)")
    p.add_argument("file")
    p.set_defaults(handler=_add)

    p = models.add_parser("remove", help="remove a model")
    p.add_argument("id")
    p.set_defaults(handler=_remove)

    p = models.add_parser("import", help="import models (IoM or the prototype's format)")
    p.add_argument("file")
    conflict_options(p, "model")
    p.set_defaults(handler=_import)

    p = models.add_parser("backups", help="old versions of a model kept when an import replaced it")
    p.add_argument("id")
    p.set_defaults(handler=_backups)

    p = models.add_parser("restore", help="put back a model's backup (the newest unless --from names one)")
    p.add_argument("id")
    p.add_argument("--from", dest="backup", metavar="BACKUP", help="a backup as 'iom models backups ID' lists it")
    p.set_defaults(handler=_restore)

    p = models.add_parser("export", help="export models as JSON (never with secrets)")
    p.add_argument("ids", nargs="*", help="model ids (default: all)")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.set_defaults(handler=_export)

    p = models.add_parser("check", help="probe models cheaply and store their health")
    p.add_argument("ids", nargs="*", help="model ids")
    p.add_argument("--all", action="store_true", help="check every model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_check)

    p = models.add_parser("discover", help="list the models an Ollama server has installed, and register them")
    p.add_argument("source", choices=["ollama"])
    p.add_argument("--url", help="the server (default: OLLAMA_HOST, else http://127.0.0.1:11434)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--add", nargs="+", metavar="NAME", help="register these models (Ollama names, e.g. llama3.2:latest)")
    group.add_argument("--all", action="store_true", help="register every model not registered yet")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_discover)

    p = models.add_parser("reset", help="restore the sample models and pipelines (a sample you changed is "
                                         "overwritten, its changed version kept as a backup)")
    p.add_argument("--purge", action="store_true", help="also remove every model and pipeline that is not a sample "
                                                         "(each kept as a backup: 'iom models|pipelines restore ID')")
    p.set_defaults(handler=_reset)


def _price(spec) -> str:
    return price_label(spec)


def _list(args) -> int:
    s = studio()
    q = ModelQuery(text=args.search, capability=args.capability, model_type=args.model_type,
                   provider=args.provider, tag=args.tag, max_price_per_mtok=args.max_price,
                   max_latency_ms=args.max_latency, policy=args.policy, health=args.health)
    calls = s.call_stats()  # latency as routing takes it: measured p50, else declared
    specs = s.models.search(q, calls)
    health = s.models.health_all()
    for problem in s.models.problems():
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
        print_json([{**spec.to_json_dict(), "incomplete": spec.incomplete, "faults": bool(fault_label(spec.faults)),
                     "health": health[spec.id].to_json_dict() if spec.id in health else {"state": "unknown"},
                     "latency": _latency_doc(spec, calls)}
                    for spec in specs])
        return 0
    rows = [[spec.id, spec.model_type, spec.provider, _price(spec),
             (health[spec.id].state if spec.id in health else "unknown") + (" (incomplete)" if spec.incomplete else "")
             + fault_label(spec.faults),
             latency_label(spec, calls), ",".join(spec.capabilities)] for spec in specs]
    if not rows:
        print("no models match.", file=sys.stderr)
    print_table(rows, ["id", "type", "provider", "price", "health", "latency", "capabilities"])
    return 0


def _latency_doc(spec, calls) -> dict:
    """{"ms", "source"}: the latency routing uses (measured p50 of recent calls, else declared)."""
    ms, source = expected_latency(spec, calls)
    return {"ms": None if ms is None else round(ms, 1), "source": source}


def _show(args) -> int:
    s = studio()
    spec = s.models.get(args.id)
    doc = s.models.export_doc([spec.id])["models"][0]  # refused if it holds a stored key's value
    key = s.keys.status(spec.key_ref).source if spec.key_ref else "not needed"
    from studio.registry.quality import measured_for

    doc_extra = {"incomplete": spec.incomplete, "health": s.models.health(spec.id).to_json_dict(), "keyStatus": key,
                 "measuredQuality": measured_for(s.home, spec), "latency": _latency_doc(spec, s.call_stats())}
    if args.json:
        print_json({**doc, **doc_extra})
    else:
        print(dumps_stable({**doc, **doc_extra}), end="")
    return 0


def _add(args) -> int:
    s = studio()
    from studio.spec.legacy import from_prototype, looks_like_prototype

    entries = s.models.parse_entries(read_json_file(args.file))
    for entry in entries:
        ident = entry.get("id")
        if ident is None and looks_like_prototype(entry):
            try:
                ident = from_prototype(entry)[0].id
            except Exception:
                ident = None
        if isinstance(ident, str) and ident and s.models.find(ident) is not None:
            raise UserError(f"a model with id {ident!r} exists already; use 'iom models import' to update it.")
    report = s.models.import_doc(entries, source=args.file)
    _print_report(report)
    return 0


def _import(args) -> int:
    report = studio().models.import_file(args.file, replace=args.replace, rename=args.rename)
    _print_report(report)
    return 0


def conflict_options(p, kind: str) -> None:
    """--replace and --rename: what to do when an imported id exists (never a silent replace)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true",
                       help=f"replace a {kind} whose id exists (its old version is kept as a backup)")
    group.add_argument("--rename", metavar="NEW_ID", help=f"import the (single) {kind} under this id")


def print_backups(ident: str, found: list) -> int:
    """`iom models|pipelines backups ID`: newest first, one file name a line."""
    if not found:
        print(f"no backups of {ident}.", file=sys.stderr)
    for path in found:
        print(path.name)
    return 0


def print_restored(ident: str, path) -> int:
    print(f"restored {ident} from {path.name} (the version it replaced is kept as a backup)")
    return 0


def _backups(args) -> int:
    return print_backups(args.id, studio().models.backups.list(args.id))


def _restore(args) -> int:
    spec, path = studio().models.restore(args.id, args.backup)
    return print_restored(spec.id, path)


def _print_report(report) -> None:
    print(report.summary() + (": " + ", ".join(report.added + report.updated) if report.added or report.updated else ""))
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)


def _remove(args) -> int:
    studio().models.delete(args.id)
    print(f"removed {args.id}")
    return 0


def _export(args) -> int:
    doc = studio().models.export_doc(args.ids or None)
    write_output(dumps_stable(doc), args.output)
    return 0


def _reset(args) -> int:
    report = studio().reset_to_samples(purge=args.purge)
    print(f"restored {report.models} sample models and {report.pipelines} sample pipelines")
    if report.note():
        print(report.note())
    return 0


def _check(args) -> int:
    import asyncio

    s = studio()
    if args.all == bool(args.ids):
        raise UserError("name the models to check, or pass --all (not both).")
    specs = s.models.all() if args.all else [s.models.get(i) for i in args.ids]

    async def probe_all():
        try:
            limit = asyncio.Semaphore(8)

            async def one(spec):
                async with limit:
                    return spec, await s.providers.check(spec)

            return await asyncio.gather(*(one(spec) for spec in specs))
        finally:
            await s.aclose()

    results = asyncio.run(probe_all())
    for spec, status in results:
        s.models.set_health(spec.id, status)
    if args.json:
        print_json({spec.id: status.to_json_dict() for spec, status in results})
        return 0
    print_table([[spec.id, status.state + fault_label(spec.faults),
                  "" if status.latency_ms is None else f"{status.latency_ms:.0f} ms", status.detail]
                 for spec, status in results], ["id", "health", "latency", "detail"])
    return 0


def _discover(args) -> int:
    from studio.registry.discover import scan_ollama

    s = studio()
    scan = scan_ollama(args.url, s.models.all())
    for problem in scan.skipped:
        print(f"warning: {problem}", file=sys.stderr)
    found = scan.found
    chosen = []
    if args.add:
        by_name = {f.name: f for f in found} | {f.name.removesuffix(":latest"): f for f in found}
        missing = [n for n in args.add if n not in by_name]
        if missing:
            raise UserError(f"the Ollama server has no model {missing[0]!r}; "
                            "'iom models discover ollama' lists the installed ones.")
        chosen = [by_name[n] for n in args.add if not by_name[n].registered]
    elif args.all:
        chosen = [f for f in found if not f.registered]
    for f in chosen:
        _register_found(s, f)
    if args.json:
        print_json([f.to_json_dict() for f in found])
        return 0
    if not found:
        print("the Ollama server lists no model that can be registered; 'ollama pull NAME' installs one."
              if scan.skipped else "the Ollama server has no models installed; 'ollama pull NAME' installs one.",
              file=sys.stderr)
        return 0
    print_table([[f.name, f.spec.id, f.size_label, f.family, f.parameter_size, f.quantization,
                  "yes" if f.registered else "no"] for f in found],
                ["name", "id", "size", "family", "parameters", "quantization", "registered"])
    return 0


def _register_found(s, f) -> None:
    """Register one discovered model; one registered since the listing was read (another
    process, or the same name twice in it) is already there, not a failure."""
    if s.models.find(f.spec.id) is None:
        s.models.save(f.spec, create=True)
        print(f"registered {f.spec.id}", file=sys.stderr)
    else:
        print(f"{f.spec.id} is registered already", file=sys.stderr)
    f.registered = True
