"""Harvest benchmark: save -> stored entry latency (p50/p95) and entries lost in a burst of saves.

Runs the real harvester (``python -m gerbil_lsp.harvest watch``) as a
subprocess on a temporary git workspace under a private GERBIL_LSP_HOME, saves
Gerbil files the way an editor does (write + close), and watches the store
read-only for each new form. Targets: p95 <= 1 s; 0 entries lost in a burst.

    .venv/bin/python bench/harvest.py [--saves 100] [--burst 1000] [--out out/bench-harvest]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FORM = re.compile(r"\(def (lat|burst)(\d+) (\d+)\)")


class StoreWatcher(threading.Thread):
    """Polls the store every 5 ms and remembers when each benchmark form first appeared."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.seen, self.stop = db, {}, threading.Event()

    def run(self) -> None:
        last = 0
        while not self.stop.is_set():
            if self.db.exists():
                try:
                    con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
                    rows = con.execute("SELECT id, payload FROM entries WHERE id > ? ORDER BY id", (last,)).fetchall()
                    con.close()
                except sqlite3.Error:
                    rows = []
                now = time.perf_counter()
                for row_id, payload in rows:
                    last = max(last, row_id)
                    match = FORM.fullmatch(json.loads(payload)["fim"]["middle"])
                    if match:
                        self.seen.setdefault((match.group(1), int(match.group(2))), now)
            time.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=100, help="spaced saves for the latency figure")
    parser.add_argument("--burst", type=int, default=1000, help="saves as fast as possible")
    parser.add_argument("--files", type=int, default=10, help="files the burst is spread over")
    parser.add_argument("--out", type=Path, default=Path("out/bench-harvest"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-harvest-"))
    workspace = tmp / "ws"
    (workspace / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    env = {**os.environ, "GERBIL_LSP_HOME": str(tmp / "home"), "GERBIL_LSP_HARVEST__ENABLED": "true",
           "GERBIL_LSP_HARVEST__WORKSPACES": json.dumps([str(workspace)]),
           "XDG_DATA_HOME": str(tmp / "xdg")}
    files = [workspace / "src" / f"f{i}.ss" for i in range(args.files)]
    for f in files:
        f.write_text("")
    daemon = subprocess.Popen([sys.executable, "-m", "gerbil_lsp.harvest", "watch", "--no-retrain", "--poll", "3600"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = tmp / "home" / "state" / "harvest-daemon.json"
    while not status.exists():
        if daemon.poll() is not None:
            print("harvester failed to start", file=sys.stderr)
            return 1
        time.sleep(0.05)
    watcher = StoreWatcher(tmp / "home" / "data" / "harvest.sqlite")
    watcher.start()
    try:
        saved: dict[tuple[str, int], float] = {}
        for i in range(args.saves):
            target = files[i % len(files)]
            with open(target, "a") as fh:
                fh.write(f"(def lat{i} {i})\n")
            saved[("lat", i)] = time.perf_counter()
            time.sleep(0.25)
        burst_start = time.perf_counter()
        for i in range(args.burst):
            with open(files[i % len(files)], "a") as fh:
                fh.write(f"(def burst{i} {i})\n")
        burst_written = time.perf_counter() - burst_start
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sum(1 for k in watcher.seen if k[0] == "burst") == args.burst and all(k in watcher.seen for k in saved):
                break
            time.sleep(0.1)
        burst_done = max((t for k, t in watcher.seen.items() if k[0] == "burst"), default=time.perf_counter())
    finally:
        watcher.stop.set()
        daemon.terminate()
        daemon.wait(timeout=30)

    latencies = [watcher.seen[k] - t for k, t in saved.items() if k in watcher.seen]
    lost_spaced = len(saved) - len(latencies)
    lost_burst = args.burst - sum(1 for k in watcher.seen if k[0] == "burst")
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    figures = {
        "saves": args.saves, "latency_p50_s": round(p50, 3), "latency_p95_s": round(p95, 3),
        "latency_mean_s": round(statistics.mean(latencies), 3), "lost_spaced": lost_spaced,
        "burst": args.burst, "burst_files": args.files, "burst_write_s": round(burst_written, 3),
        "burst_stored_s": round(burst_done - burst_start, 3), "burst_lost": lost_burst,
        "target_p95_s": 1.0, "p95_ok": p95 <= 1.0, "burst_ok": lost_burst == 0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "harvest.json").write_text(json.dumps(figures, indent=2))
    print(f"{'metric':28} value")
    for key, value in figures.items():
        print(f"{key:28} {value}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist([x * 1000 for x in latencies], bins=30, color="#4a7")
        for q, v in (("p50", p50), ("p95", p95)):
            ax.axvline(v * 1000, linestyle="--", color="k")
            ax.text(v * 1000, ax.get_ylim()[1] * 0.9, f" {q} {v * 1000:.0f} ms")
        ax.set_xlabel("save -> stored entry (ms)")
        ax.set_ylabel("saves")
        ax.set_title(f"harvest latency ({len(latencies)} saves); burst {args.burst}: {lost_burst} lost")
        fig.tight_layout()
        fig.savefig(args.out / "harvest.png", dpi=120)
        print(f"figures: {args.out / 'harvest.json'}, chart: {args.out / 'harvest.png'}")
    except ImportError:
        pass
    return 0 if figures["p95_ok"] and figures["burst_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
