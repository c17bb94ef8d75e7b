"""Start-up cost: ``import otmix.ot``, ``import otmix`` and ``otmix --help``, each in a fresh interpreter.

    python benchmarks/import_time.py                    # median, min and max of 5 runs each
    python benchmarks/import_time.py --runs 9 --json benchmarks/import_time.json --importtime

Every run starts a new Python process, so nothing is imported yet (the operating system's file cache
stays warm: after the first run the files are read from memory, which is what a user typing commands
sees). One run of each command before the measured ones compiles any stale ``.pyc`` files
(``--no-warmup`` skips it). The load average before and after is recorded, since a busy machine
inflates every figure. ``--importtime`` adds the slowest imports of one run (``python -X importtime``).
Target (issue 15): each under 1.5 s on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 1.5


def commands(python: str) -> dict[str, list[str]]:
    """The measured command lines; ``otmix --help`` through the console script when it is installed."""
    script = Path(python).with_name("otmix")
    help_cmd = [str(script), "--help"] if script.is_file() else [python, "-m", "otmix", "--help"]
    return {
        "import otmix.ot": [python, "-c", "import otmix.ot"],
        "import otmix": [python, "-c", "import otmix"],
        "otmix --help": help_cmd,
    }


def _env() -> dict[str, str]:
    # a fixed width, no colour: the help text is rendered the same way in every run
    return {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def time_once(cmd: list[str]) -> float:
    """Wall-clock seconds of one run (the command must succeed)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return seconds


def slowest_imports(cmd: list[str], top: int) -> list[dict[str, float | str]]:
    """The ``top`` imports with the largest cumulative time in one ``-X importtime`` run of ``cmd``."""
    if cmd[0].endswith("otmix"):  # the console script: run the same entry point through python
        cmd = [sys.executable, "-m", "otmix", *cmd[1:]]
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, env=_env(),
                          check=False)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append({"module": name.strip(), "cumulative_s": int(cumulative_us) / 1e6})
    return sorted(rows, key=lambda r: -float(r["cumulative_s"]))[:top]


def machine() -> dict[str, object]:
    info: dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()}
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15_min"] = [round(v, 2) for v in os.getloadavg()]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command (default 5)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose otmix is measured")
    parser.add_argument("--no-warmup", action="store_true", help="skip the unmeasured first run of each command")
    parser.add_argument("--importtime", action="store_true", help="also list the 8 slowest imports of each")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (atomically)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    before = machine()
    results = []
    for name, cmd in commands(args.python).items():
        if not args.no_warmup:
            time_once(cmd)
        seconds = [time_once(cmd) for _ in range(args.runs)]
        row = {"name": name, "command": cmd, "seconds": seconds, "median": statistics.median(seconds),
               "min": min(seconds), "max": max(seconds)}
        if args.importtime:
            row["slowest_imports"] = slowest_imports(cmd, 8)
        results.append(row)
    after = machine()

    load = before.get("load_average_1_5_15_min")
    print(f"{args.runs} fresh-interpreter runs each; {before['cpus']} CPUs; load average before {load}, "
          f"after {after.get('load_average_1_5_15_min')}")
    print(f"{'command':<18} {'median s':>9} {'min s':>7} {'max s':>7}  target < {TARGET_SECONDS} s")
    for row in results:
        verdict = "ok" if row["median"] < TARGET_SECONDS else "over"
        print(f"{row['name']:<18} {row['median']:>9.3f} {row['min']:>7.3f} {row['max']:>7.3f}  {verdict}")
        for imp in row.get("slowest_imports", []):
            print(f"    {imp['cumulative_s']:7.3f} s  {imp['module']}")
    if args.json is not None:
        payload = {"machine": before, "load_average_after": after.get("load_average_1_5_15_min"),
                   "runs": args.runs, "warmup": not args.no_warmup, "target_seconds": TARGET_SECONDS,
                   "results": results}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, prefix=f".{args.json.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
