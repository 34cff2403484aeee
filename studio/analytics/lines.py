"""The spool's line format: one record per line, redacted before it touches the disk.

    {"kind": "call", "record": {…CallRecord…}, "input": "<canonical text>" | null, "output": …}
    {"kind": "run", "record": {…RunRecord…}}

A call's input and output travel in the audit trail's canonical form (already redacted and
hashed the same way the database stores them); a run is redacted as a whole.
"""

from __future__ import annotations

import json

try:  # NiceGUI brings orjson where it has wheels (see pyproject.toml)
    import orjson
except ImportError:  # pragma: no cover - platforms without orjson wheels
    orjson = None

from studio.jsonread import replace_lone_surrogates
from studio.secrets import redact, redact_data, redactor
from studio.spec.calls import Usage
from studio.spec.records import CallRecord, RunRecord


_string = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(…, ensure_ascii=False), encoder built once
_to_json = CallRecord.__pydantic_serializer__.to_json  # model_dump_json's bytes, without decoding them


CALL_PREFIX = b'{"kind":"call",'  # how every call line starts (the writer sorts lines by it)
RUN_PREFIX = b'{"kind":"run","record":'  # and every run line
_RUN_ID = RUN_PREFIX + b'{"id":"'  # run_line writes the record's id first (RunRecord's first field)
_STATUS = b',"status":"'


def call_line(record: CallRecord, input_text: str | None, output_text: str | None) -> bytes:
    """Built as bytes: the record's JSON is UTF-8 already, so only the two texts are encoded."""
    return b"".join((
        CALL_PREFIX, b'"record":', _record_json(record),
        b',"input":', _json_text(input_text), b',"output":', _json_text(output_text), b"}\n",
    ))


def _record_json(record: CallRecord) -> bytes:
    """The record as pydantic's JSON says it (field names, ISO times, null for NaN), its error
    message redacted. orjson writes it from the fields in a third of pydantic's time, which every
    call pays; pydantic writes what orjson refuses (a lone surrogate, a type it does not know)."""
    fields = record.__dict__
    message = fields["error_message"]
    if orjson is not None and type(fields["usage"]) is Usage:
        doc = {**fields, "usage": fields["usage"].__dict__}
        if message:
            doc["error_message"] = redact(message)
        try:
            return orjson.dumps(doc, option=orjson.OPT_UTC_Z)
        except TypeError:  # orjson.JSONEncodeError
            pass
    if message:
        record = record.model_copy(update={"error_message": redact(message)})
    try:
        return _to_json(record)
    except ValueError:  # a lone surrogate, which neither will encode
        return replace_lone_surrogates(_string(record.model_dump(mode="json"))).encode("utf-8")


def _json_text(text: str | None) -> bytes:
    """A JSON string as UTF-8; None is spelled out (the encoder takes a slow path for it).
    orjson writes a string ~4x faster than json; json writes it where orjson is missing."""
    if text is None:
        return b"null"
    if orjson is not None:
        try:
            return orjson.dumps(text)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return replace_lone_surrogates(_string(text)).encode("utf-8")


def run_line(run: RunRecord) -> bytes:
    """Serialised once; walked for secrets string by string only when the text shows one."""
    try:
        body = run.model_dump_json()
    except ValueError:  # text pydantic will not encode (a lone surrogate): the careful path below
        body = None
    if body is None or not redactor.is_clean(body):
        body = json.dumps(redact_data(run.model_dump(mode="json")), ensure_ascii=False, separators=(",", ":"))
        body = replace_lone_surrogates(body)
    return f'{{"kind":"run","record":{body}}}\n'.encode("utf-8")


def latest_runs(lines: list[bytes]) -> list[bytes]:
    """Of the run lines, in order, the last one of each run. A run is spooled when it starts and
    again when it ends, and only its last record is stored: decoding the others was half the
    writer's time in a batch (two run lines a row, ~55 µs each). The id is read off the line's
    start; a line where it is not plain (an escape in it, another writer's spacing) is kept."""
    ids = [_plain_run_id(line) for line in lines]
    last = {run_id: i for i, run_id in enumerate(ids) if run_id is not None}
    return [line for i, (line, run_id) in enumerate(zip(lines, ids)) if run_id is None or last[run_id] == i]


def _plain_run_id(line: bytes) -> bytes | None:
    if not line.startswith(_RUN_ID):
        return None
    end = line.find(b'"', len(_RUN_ID))
    run_id = line[len(_RUN_ID):end]
    return run_id if end > 0 and b"\\" not in run_id else None


def run_state(line: bytes) -> tuple[str, str]:
    """(id, status) of a run line, read off the line's start where run_line wrote it plainly
    (the id first, then two strings, then the status: a quote inside a string is escaped, so
    the first `,"status":"` is the record's own); any other line is parsed whole."""
    run_id = _plain_run_id(line)
    at = line.find(_STATUS) + len(_STATUS)
    if run_id is not None and at >= len(_STATUS):
        status = line[at:line.find(b'"', at)]
        if status.isalpha():
            return run_id.decode(), status.decode()
    run = decode_run(line)
    return run.id, run.status


def decode_run(line: bytes) -> RunRecord:
    """A run line's record, parsed by pydantic straight from the bytes where the line is exactly
    as run_line writes it (its newline kept or not) and has no byte of a lone surrogate (a third
    faster than `decode`)."""
    if line.startswith(RUN_PREFIX) and b"\xed" not in line:
        end = -2 if line.endswith(b"}\n") else -1 if line.endswith(b"}") else 0
        if end:
            return RunRecord.model_validate_json(line[len(RUN_PREFIX):end])
    kind, item = decode(line)
    if kind != "run":
        raise ValueError(f"{kind} line among the runs")
    return item


def decode(line: bytes) -> tuple[str, object]:
    """("call", (CallRecord, input_text, output_text)) or ("run", RunRecord). A line spooled
    before lone surrogates were replaced has them as UTF-8 can spell none (ED A0–BF …);
    they are read as U+FFFD, or the database would refuse the line's whole batch."""
    text = line.decode("utf-8", "surrogatepass")
    if b"\xed" in line:  # the lead byte of every surrogate (and of some Hangul)
        text = replace_lone_surrogates(text)
    doc = json.loads(text)
    if doc["kind"] == "call":
        return "call", (CallRecord.model_validate(doc["record"]), doc.get("input"), doc.get("output"))
    if doc["kind"] == "run":
        return "run", RunRecord.model_validate(doc["record"])
    raise ValueError(f"unknown spool record kind {doc['kind']!r}")
