"""`iom pipelines …`: list, show, validate, import, export."""

from __future__ import annotations

import sys

from studio.atomic import dumps_stable
from studio.cli.models import conflict_options, print_backups, print_restored
from studio.cli.common import load_pipeline_ref, print_json, print_table, studio, write_output


def register(sub) -> None:
    pipes = sub.add_parser("pipelines", help="saved pipelines").add_subparsers(dest="action", metavar="ACTION", required=True)

    p = pipes.add_parser("list", help="list saved pipelines")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = pipes.add_parser("show", help="show one pipeline as JSON")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="(the output is JSON either way)")
    p.set_defaults(handler=_show)

    p = pipes.add_parser("validate", help="check a pipeline (a file, or a saved one by id) against the format and the registry")
    p.add_argument("pipeline", metavar="ID|FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_validate)

    p = pipes.add_parser("import", help="import pipelines from a JSON file (older versions are upgraded)")
    p.add_argument("file")
    conflict_options(p, "pipeline")
    p.set_defaults(handler=_import)

    p = pipes.add_parser("backups", help="old versions of a pipeline kept when an import replaced it")
    p.add_argument("id")
    p.set_defaults(handler=_backups)

    p = pipes.add_parser("restore", help="put back a pipeline's backup (the newest unless --from names one)")
    p.add_argument("id")
    p.add_argument("--from", dest="backup", metavar="BACKUP", help="a backup as 'iom pipelines backups ID' lists it")
    p.set_defaults(handler=_restore)

    p = pipes.add_parser("export", help="export one pipeline as JSON")
    p.add_argument("id")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.set_defaults(handler=_export)

    p = pipes.add_parser("delete", help="delete a saved pipeline")
    p.add_argument("id")
    p.set_defaults(handler=_delete)


def _list(args) -> int:
    s = studio()
    items = s.pipelines.all()
    for problem in s.pipelines.problems():
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
        print_json([{"id": p.id, "name": p.name, "description": p.description, "nodes": len(p.nodes),
                     "edges": len(p.edges), "tags": p.tags} for p in items])
        return 0
    if not items:
        print("no pipelines saved.", file=sys.stderr)
    print_table([[p.id, p.name, str(len(p.nodes)), ",".join(p.tags)] for p in items], ["id", "name", "nodes", "tags"])
    return 0


def _show(args) -> int:
    s = studio()
    print(dumps_stable(s.share_pipeline(s.pipelines.get(args.id))), end="")
    return 0


def graph_problems(s, pipeline) -> list[dict]:
    """Problems found before a run. The engine's full validator replaces this when present."""
    try:
        from studio.engine.validate import validate_pipeline
    except ImportError:
        validate_pipeline = None
    if validate_pipeline is not None:
        return [p.to_dict() for p in validate_pipeline(pipeline, s.models)]
    problems = []
    ids = {n.id for n in pipeline.nodes}
    for n in pipeline.nodes:
        for ref in ([n.model] if n.model else []) + n.policy.fallback:
            if s.models.find(ref) is None:
                problems.append({"where": n.id, "message": f"names model {ref!r}, which is not in the registry"})
    for e in pipeline.edges:
        for end in (e.source, e.target):
            if end not in ids:
                problems.append({"where": e.id, "message": f"connects to node {end!r}, which does not exist"})
    return problems


def _validate(args) -> int:
    s = studio()
    pipeline = load_pipeline_ref(s, args.pipeline)
    problems = graph_problems(s, pipeline)
    if args.json:
        print_json({"id": pipeline.id, "valid": not problems, "problems": problems})
    elif problems:
        for p in problems:
            print(f"{p['where']}: {p['message']}")
    else:
        print(f"{pipeline.id}: valid ({len(pipeline.nodes)} nodes, {len(pipeline.edges)} edges)")
    return 1 if problems else 0


def _import(args) -> int:
    registry = studio().pipelines
    for p in registry.import_file(args.file, replace=args.replace, rename=args.rename):
        print(f"imported {p.id}")
    for kept in getattr(registry, "replaced", []):
        print(f"the replaced version is kept in {kept}", file=sys.stderr)
    return 0


def _backups(args) -> int:
    return print_backups(args.id, studio().pipelines.backups_of(args.id))


def _restore(args) -> int:
    pipeline, path = studio().pipelines.restore(args.id, args.backup)
    return print_restored(pipeline.id, path)


def _export(args) -> int:
    s = studio()
    doc = s.share_pipeline(s.pipelines.get(args.id))
    write_output(dumps_stable(doc), args.output)
    return 0


def _delete(args) -> int:
    studio().pipelines.delete(args.id)
    print(f"deleted {args.id}")
    return 0
