"""One results file per benchmark, and the README table made from them.

Every benchmark ends with `save(name, figures, ...)`: `bench/results/<name>.json` holds its figures with
the machine (CPU model, cores, memory, load while it ran), the date and the commit (and whether the tree
had uncommitted changes), so a figure is never quoted without what it was measured on. The newest run of
each benchmark replaces the previous one. bench/results/ is git-ignored (figures of one machine); what is
committed is the README table made from them, with the machine, date and commit of each.

    .venv/bin/python -m bench.results            # print the Markdown table of every results file
    .venv/bin/python -m bench.results --readme   # and write it into README.md between the markers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BEGIN = "<!-- bench:results:begin (python -m bench.results --readme) -->"
END = "<!-- bench:results:end -->"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, load average at the end of the run."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def save(name: str, figures: dict[str, Any], *, command: str, leaves_out: str) -> Path:
    """Write `bench/results/<name>.json` and return its path.

    `leaves_out` says what the figure does not measure, so nobody reads more into it than it holds.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    RESULTS.chmod(0o755)  # a benchmark that built a broker runs under its umask 077
    record = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "command": command,
        "leaves_out": leaves_out,
        "figures": figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(_finite(record), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    path.chmod(0o644)
    print(f"results written to {path.relative_to(ROOT)}", file=sys.stderr)
    return path


def _finite(value: Any) -> Any:
    """NaN and infinities (a figure not measured) as null: strict JSON."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def load() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}


def _rows(name: str, record: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, figure, target/peer) rows of one results file."""
    figures = record["figures"]
    rows: list[tuple[str, str, str]] = []
    for row in figures.get("table", []):
        rows.append((row["what"], row["figure"], row.get("target", "")))
    return rows


def table(records: dict[str, dict[str, Any]]) -> str:
    lines = ["| benchmark | what | figure | target / peer |", "|---|---|---|---|"]
    sources = []
    for name, record in records.items():
        for what, figure, target in _rows(name, record):
            lines.append(f"| {name} | {what} | {figure} | {target} |")
        m = record["machine"]
        dirty = "+changes" if record.get("uncommitted_changes") else ""
        sources.append(
            f"* `{name}`: {record['date'][:16].replace('T', ' ')} UTC, commit {record['commit']}{dirty}, "
            f"{m['cores']} x {m['cpu']}, load {m.get('load_average')}; `{record['command']}`. "
            f"Leaves out: {record['leaves_out']}"
        )
    return "\n".join([*lines, "", *sources])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", action="store_true", help="write the table into README.md between the markers")
    args = parser.parse_args()
    text = table(load())
    print(text)
    if args.readme:
        readme = ROOT / "README.md"
        content = readme.read_text()
        if BEGIN not in content or END not in content:
            raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
        head, rest = content.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
