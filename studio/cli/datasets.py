"""`iom datasets import FILE [--id ID] | list | show ID [--rows N] | map ID | delete ID...`: the datasets
that batches run over."""

from __future__ import annotations

import sys

from studio import jsonwrite
from studio.cli.common import MOST_ROWS, print_json, print_table, whole_number


def register(sub) -> None:
    ds = sub.add_parser("datasets", help="datasets for batch runs and evaluations").add_subparsers(
        dest="action", metavar="ACTION", required=True)

    p = ds.add_parser("import", help="import a CSV, JSONL or Parquet file (kept as given)")
    p.add_argument("file")
    p.add_argument("--id", help="the dataset's id (default: from the file name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_import)

    p = ds.add_parser("list", help="list imported datasets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = ds.add_parser("map", help="map columns to a target's inputs and to expected values",
                      description="Map columns to a target's inputs and to expected values. The --input pairs given "
                                  "replace the saved input mapping and the --expected pairs the expected one; a kind "
                                  "left out stays as saved. --clear-inputs / --clear-expected remove one (then a "
                                  "column with an input's name feeds that input, the others are expected values).")
    p.add_argument("id")
    p.add_argument("--input", action="append", default=[], metavar="INPUT=COLUMN",
                   help="feed COLUMN to input INPUT (repeat for more; replaces the saved input mapping)")
    p.add_argument("--expected", action="append", default=[], metavar="NAME=COLUMN",
                   help="score against COLUMN as NAME (repeat for more; replaces the saved expected mapping)")
    p.add_argument("--clear-inputs", action="store_true", help="remove the saved input mapping")
    p.add_argument("--clear-expected", action="store_true", help="remove the saved expected mapping")
    p.set_defaults(handler=_map)

    p = ds.add_parser("show", help="a dataset's (or a data file's) schema, row count, mapping and first rows")
    p.add_argument("id", help="a dataset id, or the path of a CSV, JSONL or Parquet file")
    p.add_argument("--rows", type=whole_number(0, MOST_ROWS), default=5, help="how many rows to preview (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = ds.add_parser("delete", help="remove imported datasets (batches over them keep their rows)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(handler=_delete)


def _home():
    from studio.paths import data_home

    return data_home()


def _import(args) -> int:
    from studio.eval.datasets import import_dataset

    ds = import_dataset(_home(), args.file, args.id)
    if args.json:
        print_json(ds.to_json())
    else:
        print(f"imported {ds.id}: {ds.rows} rows, columns {', '.join(c['name'] + ':' + c['type'] for c in ds.columns)}")
    return 0


def _list(args) -> int:
    from studio.eval.datasets import damaged_datasets, empty_hint, list_datasets

    items = list_datasets(_home())
    for dataset_id in damaged_datasets(_home(), items):
        print(f"warning: the dataset {dataset_id!r} has a damaged meta.json and is left out; "
              f"'iom datasets delete {dataset_id}' removes it.", file=sys.stderr)
    if args.json:
        print_json([d.to_json() for d in items])
        return 0
    if not items:
        print(empty_hint(), file=sys.stderr)
        return 0
    print_table([[d.id, d.format, str(d.rows), ", ".join(d.column_names)] for d in items], ["id", "format", "rows", "columns"])
    return 0


def _show(args) -> int:
    from studio.eval.datasets import describe

    ds, rows = describe(_home(), args.id, args.rows)
    if args.json:
        print_json({**ds.to_json(), "preview": rows})
        return 0
    print(f"{ds.id or ds.source}: {ds.rows} rows, {ds.format}, file {ds.file}")
    for c in ds.columns:
        print(f"  {c['name']}: {c['type']}")
    if ds.inputs or ds.expected:
        print(f"  inputs {ds.inputs}, expected {ds.expected}")
    for r in rows:
        print(jsonwrite.text(r, ensure_ascii=False, default=str))
    return 0


def _map(args) -> int:
    from studio.errors import UserError
    from studio.eval.datasets import get_dataset, parse_pairs, save_mapping

    home = _home()
    for pairs, clear, name in ((args.input, args.clear_inputs, "input"), (args.expected, args.clear_expected, "expected")):
        if pairs and clear:
            raise UserError(f"give --{name} pairs or --clear-{name}{'s' if name == 'input' else ''}, not both.")
    if not (args.input or args.expected or args.clear_inputs or args.clear_expected):
        raise UserError("give --input INPUT=COLUMN or --expected NAME=COLUMN (or --clear-inputs, --clear-expected); "
                        "'iom datasets show ID' shows the mapping saved now.")
    # only what is given changes: `--expected` alone used to wipe the saved input mapping
    inputs = {} if args.clear_inputs else parse_pairs(args.input, "--input") if args.input else None
    expected = {} if args.clear_expected else parse_pairs(args.expected, "--expected") if args.expected else None
    ds = save_mapping(home, get_dataset(home, args.id), inputs, expected)
    print(f"{ds.id}: inputs {ds.inputs or '(same names)'}, expected {ds.expected or '(the other columns)'}")
    return 0


def _delete(args) -> int:
    from studio.eval.datasets import DamagedDataset, delete_dataset, deleted_note, get_dataset

    home = _home()
    for dataset_id in args.ids:  # every id checked before any is removed: a typo in the third deletes nothing
        try:
            get_dataset(home, dataset_id)
        except DamagedDataset:  # deleting it is the way out
            pass
    for dataset_id in args.ids:
        print(deleted_note(*delete_dataset(home, dataset_id)), file=sys.stderr)
    return 0
