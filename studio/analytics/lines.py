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

from studio.secrets import redact, redact_data, redactor
from studio.spec.records import CallRecord, RunRecord


_string = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(…, ensure_ascii=False), encoder built once
_to_json = CallRecord.__pydantic_serializer__.to_json  # model_dump_json's bytes, without decoding them


CALL_PREFIX = b'{"kind":"call",'  # how every call line starts (the writer sorts lines by it)


def call_line(record: CallRecord, input_text: str | None, output_text: str | None) -> bytes:
    """Built as bytes: the record's JSON is UTF-8 already, so only the two texts are encoded."""
    if record.error_message:
        record = record.model_copy(update={"error_message": redact(record.error_message)})
    return b"".join((
        CALL_PREFIX, b'"record":', _to_json(record),
        b',"input":', _json_text(input_text), b',"output":', _json_text(output_text), b"}\n",
    ))


def _json_text(text: str | None) -> bytes:
    """A JSON string as UTF-8; None is spelled out (the encoder takes a slow path for it).
    orjson writes a string ~4x faster than json; a lone surrogate, which it refuses, goes
    through json (the line is read back with `surrogatepass`)."""
    if text is None:
        return b"null"
    if orjson is not None:
        try:
            return orjson.dumps(text)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return _string(text).encode("utf-8", "surrogatepass")


def run_line(run: RunRecord) -> bytes:
    """Serialised once; walked for secrets string by string only when the text shows one."""
    try:
        body = run.model_dump_json()
    except ValueError:  # text pydantic will not encode (a lone surrogate): the careful path below
        body = None
    if body is None or not redactor.is_clean(body):
        body = json.dumps(redact_data(run.model_dump(mode="json")), ensure_ascii=False, separators=(",", ":"))
    return f'{{"kind":"run","record":{body}}}\n'.encode("utf-8", "surrogatepass")


def decode(line: bytes) -> tuple[str, object]:
    """("call", (CallRecord, input_text, output_text)) or ("run", RunRecord)."""
    doc = json.loads(line.decode("utf-8", "surrogatepass"))
    if doc["kind"] == "call":
        return "call", (CallRecord.model_validate(doc["record"]), doc.get("input"), doc.get("output"))
    if doc["kind"] == "run":
        return "run", RunRecord.model_validate(doc["record"])
    raise ValueError(f"unknown spool record kind {doc['kind']!r}")
