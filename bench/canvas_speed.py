"""Canvas speed figures: a 100-node pipeline's open time and pan frame times, and the time from
an engine status event to the canvas painting it. Runs the browser test that measures them
(real headless Chromium) and prints its figures.

    python bench/canvas_speed.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/browser/test_canvas_speed.py", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True)
    figures = [line for line in proc.stdout.splitlines()
               if line.startswith(("100-node", "pan:", "status event"))]
    print("\n".join(figures) if figures else proc.stdout[-3000:] + proc.stderr[-2000:])
    sys.exit(proc.returncode)
