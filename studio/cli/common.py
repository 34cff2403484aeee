"""What every CLI command shares: the Studio object, output helpers, error handling."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import textwrap
import time
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, TypeVar

from studio import jsonwrite
from studio.errors import UserError, system_error_sentence
from studio.formats import dollars
from studio.heap import freeze_long_lived
from studio.providers.errors import ProviderError
from studio.secrets import redact

T = TypeVar("T")


# the most rows a --limit or --rows can name: past it a slice of a file (islice) or DuckDB's LIMIT overflows
MOST_ROWS = 10**12


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for a count or a port: a bad value is argparse's one usage line (a
    negative --limit reached DuckDB's LIMIT, a --port of 70000 socket.bind, as tracebacks)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < low or (high is not None and n > high):
            top = f"{high:,}" if high is not None and high >= 10**6 else high  # 1,000,000,000,000; 65535
            wanted = f"a whole number from {low} to {top}" if high is not None else f"a whole number, {low} or more"
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
        return n
    return parse


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return float("nan")
    return value if value != float("inf") else float("nan")


def seconds(text: str) -> float:
    """An argparse type for a timeout: a number of seconds above 0."""
    value = _finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def amount(text: str) -> float:
    """An argparse type for a price or a limit: a number, 0 or more (a negative one matched
    nothing without a word)."""
    value = _finite(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, 0 or more")
    return value


_studio = None


def studio():
    """The command's one Studio; `run_command` closes it (flushing analytics) on the way out."""
    global _studio
    if _studio is None:
        from studio.core import Studio

        _studio = Studio()
    return _studio


def load_pipeline_ref(s, ref: str):
    """A pipeline named by its file (a .json name, or a path that exists) or by its saved id."""
    from studio.registry import read_json_file
    from studio.spec import load_pipeline

    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        return load_pipeline(read_json_file(path))
    return s.pipelines.get(ref)


def progress_bars(enabled: bool):
    """(update(label, done, total), stop): one rich bar a label on stderr (a batch, or each
    variant of an experiment), drawn only when `enabled` (a terminal, no --json); else no-ops."""
    if not enabled:
        return (lambda label, done, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(file=sys.stderr))
    tasks: dict[str, Any] = {}
    bars.start()

    def update(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bars.add_task(label, total=total)
        bars.update(tasks[label], completed=done, total=total)
    return update, bars.stop


def close_studio() -> None:
    global _studio
    if _studio is not None:
        _studio.close()
        _studio = None


def run_until_interrupted(main: Callable[[], Awaitable[T]], stop: Callable[[], None], *,
                          quiet_stdout: bool = False) -> T | None:
    """`asyncio.run(main())` with the progress bars stopped after it, however it ends; None
    when Ctrl-C ended it (the caller then says what was kept, with `interrupted`). What the
    command has made by now (imports, the studio, its registry) lives until it exits: frozen
    out of the collector's full passes, which held up the rows in flight (studio/heap.py)."""
    freeze_long_lived()
    try:
        # `quiet_stdout` (a --json command): what others print meanwhile (Ray's "A worker died"
        # lines) goes to stderr, so stdout holds the one JSON document a script reads
        with contextlib.redirect_stdout(sys.stderr) if quiet_stdout else contextlib.nullcontext():
            return asyncio.run(main())
    except KeyboardInterrupt:
        return None
    finally:
        stop()


def interrupted(sentence: str) -> int:
    """Ctrl-C during a long command: one sentence on what was kept and how to go on, and the
    shell's code for it (run_command's bare "interrupted." is for the short ones)."""
    print(sentence, file=sys.stderr)
    return 130


def run_command(args) -> int:
    """Run the handler; a UserError becomes one line on stderr and exit 1, never a traceback."""
    try:
        result = args.handler(args)
        return int(result or 0)
    except UserError as e:
        print(f"error: {redact(str(e))}", file=sys.stderr)
        return 1
    except ProviderError as e:  # a call that failed where no command caught it: its one sentence, redacted
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the system refused (a full disk, a folder not writable): its words, not a traceback
        print(f"error: {system_error_sentence(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug of ours: one sentence, and the traceback kept for the report
        if os.environ.get("IOM_DEBUG") == "1":
            raise
        print(f"error: {bug_sentence(e)}", file=sys.stderr)
        return 1
    finally:
        close_studio()


def bug_sentence(e: Exception) -> str:
    """What the person sees of a failure the studio did not foresee: what failed, that it is
    the studio's fault, and where its traceback (redacted) was written for a bug report."""
    what = redact((str(e).strip().splitlines() or [""])[0])[:200]
    failed = type(e).__name__ + (f": {what}" if what else "")
    try:
        kept = keep_traceback(e)
    except OSError as refused:
        return f"IoM Studio failed unexpectedly ({failed}); this is a bug: run the command again with IOM_DEBUG=1 " \
               f"to see where (the details could not be written: {system_error_sentence(refused)})"
    return f"IoM Studio failed unexpectedly ({failed}); this is a bug, not your input: please report it with {kept}."


def keep_traceback(e: Exception) -> Path:
    """Write the traceback, redacted, to IOM_HOME/logs/ (one file per failure: easy to attach)."""
    from studio.atomic import write_text
    from studio.paths import home_dir

    text = "".join(traceback.format_exception(e))
    path = home_dir() / "logs" / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    write_text(path, redact(f"iom {' '.join(sys.argv[1:])}\n\n{text}"), durable=False)
    return path


def print_json(data: Any) -> None:
    print(jsonwrite.text(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def print_json_with_rows(head: dict, key: str, rows: Iterable[Any]) -> None:
    """print_json({**head, key: list(rows)}), character for character, with the rows written as
    they come instead of held in one list first (a batch's million rows)."""
    marker = "@@iom-rows@@"
    text = jsonwrite.text({**head, key: marker}, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    before, after = text.split(json.dumps(marker), 1)
    sys.stdout.write(before)
    _write_json_list(rows, "    ", "\n  ")
    sys.stdout.write(after + "\n")


def print_json_list(items: Iterable[Any]) -> None:
    """print_json(list(items)), character for character, each item written as it comes."""
    _write_json_list(items, "  ", "\n")
    sys.stdout.write("\n")


def _write_json_list(items: Iterable[Any], indent: str, close: str) -> None:
    """A JSON array as json.dumps(indent=2) spells it at that depth: `indent` before each item's
    lines, `close` before the bracket that ends a non-empty array."""
    write = sys.stdout.write
    write("[")
    empty = True
    for item in items:
        text = jsonwrite.text(item, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        write(("\n" if empty else ",\n") + textwrap.indent(text, indent))
        empty = False
    write("]" if empty else close + "]")


def print_table(rows: list[list[str]], headers: list[str], *, upper: bool = True) -> None:
    """A plain aligned table: readable in a terminal, greppable, no dependency. `upper=False`
    keeps headers that are data (a confusion matrix's labels) as they are."""
    if not rows:
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join((h.upper() if upper else h).ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def write_output(text: str, path: str | None) -> None:
    """Print to stdout, or write the file atomically when -o is given."""
    if path:
        from pathlib import Path

        from studio.atomic import write_text

        target = Path(path)
        if target.is_dir():
            raise UserError(f"{path} is a folder; give a file name in it, e.g. {target / 'export.json'}.")
        if not target.parent.is_dir():  # a typo would make folders anywhere
            raise UserError(f"there is no folder {target.parent}; make it first, or give another path.")
        try:
            write_text(target, text)  # a refusal is NotSaved: a UserError naming the file
        except UserError:
            raise
        except OSError as e:
            raise UserError(f"could not write {path}: {system_error_sentence(e)}") from None
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def total_cost(agg: dict) -> str:
    """A batch's or variant's cost: the priced rows' sum and how many rows answered without a
    price (never counted as $0)."""
    n = agg.get("unpricedRows") or 0
    if agg.get("costUsd") is None:
        return f"unpriced ({n} rows)" if n else "-"
    return dollars(agg["costUsd"]) + (f" + {n} unpriced rows" if n else "")
