"""Every face at once, counted: the web app running with the gateway under steady load, and
`iom run` / `iom invoke` from the terminal beside it; then the server SIGKILLed under load,
again and again, and what was lost measured.

    python bench/bench_faces.py [--n 100] [--kills 10] [--json]

Runs in its own temporary IOM_HOME; prints figures (and one JSON object with --json)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.faces import GatewayLoad, cli_load, count_records, iom  # noqa: E402
from tests.helpers.studio_server import StudioServer  # noqa: E402


def concurrent_faces(home: Path, n: int) -> dict:
    server = StudioServer(home).start()
    with GatewayLoad(server) as load:
        result = cli_load(home, runs=n, invokes=n)
    out = server.stop()
    got = count_records(home)
    sent = {"cli_runs": n, "cli_invokes": n, "gateway_calls": load.ok}
    recorded = {"cli_runs": len(set(result.run_ids) & got["run_ids"]), "cli_invokes": got["invokes"],
                "gateway_calls": got["runs"] - len(set(result.run_ids) & got["run_ids"])}
    return {"sent": sent, "recorded": recorded, "cli_failures": len(result.failures),
            "tracebacks": out.count("Traceback"), "duplicates": got["calls"] - got["distinct_calls"],
            "seconds": round(result.seconds, 1)}


def kill_cycles(home: Path, kills: int, load_s: float) -> dict:
    """Each cycle: start the server, load the gateway, SIGKILL the server; then check that the
    registry and the database open and count the answered calls whose run is not recorded."""
    lost_total, acknowledged_total, worst_lost_s, succeeded_before = 0, 0, 0.0, 0
    problems = []
    for cycle in range(kills):
        server = StudioServer(home).start()
        with GatewayLoad(server) as load:
            time.sleep(load_s)
            server.kill()  # SIGKILL mid-load
        listing = iom(home, "runs", "list", "--json", "--limit", "100000")  # opens the database, takes in the spool
        models = iom(home, "models", "list", "--json")
        if listing.returncode or models.returncode:
            problems.append(f"cycle {cycle}: runs list exit {listing.returncode}, models list exit {models.returncode}")
            continue
        succeeded = sum(1 for r in json.loads(listing.stdout) if r["status"] == "succeeded")
        lost = max(0, load.ok - (succeeded - succeeded_before))
        succeeded_before = succeeded
        lost_total += lost
        acknowledged_total += load.ok
        if load.ok:
            worst_lost_s = max(worst_lost_s, lost * load_s / load.ok)
        got = count_records(home)
        if got["runs"] != got["distinct_runs"] or got["calls"] != got["distinct_calls"]:
            problems.append(f"cycle {cycle}: a record stored twice")
    return {"kills": kills, "acknowledged": acknowledged_total, "lost": lost_total,
            "worst_lost_seconds_of_records": round(worst_lost_s, 3), "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="iom run and iom invoke commands each (default 100)")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--load-seconds", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        faces = concurrent_faces(Path(tmp) / "faces", args.n)
    print(f"concurrent faces: sent {faces['sent']}, recorded {faces['recorded']}, "
          f"CLI failures {faces['cli_failures']}, tracebacks {faces['tracebacks']}, duplicates {faces['duplicates']} "
          f"({faces['seconds']} s)")
    with tempfile.TemporaryDirectory() as tmp:
        kills = kill_cycles(Path(tmp) / "kills", args.kills, args.load_seconds)
    print(f"SIGKILL of the server under load, {kills['kills']} times: {kills['acknowledged']} gateway calls answered, "
          f"{kills['lost']} lost (worst cycle: {kills['worst_lost_seconds_of_records']} s of records); "
          f"problems: {kills['problems'] or 'none'}")
    if args.json:
        print(json.dumps({"faces": faces, "kills": kills}))


if __name__ == "__main__":
    main()
