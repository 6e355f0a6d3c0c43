"""Footprint: an idle `run` watching 10 folders, one of them holding 2 000 journals (CPU, memory,
wake-ups), and cold start times of `--help`, `score` and `status` on that cabinet's store (a year
that has data: scoring an empty year would flatter the figure).

    python bench/footprint.py [--idle 60] [--starts 5] [--files 2000]

Linux only for the idle part (it reads /proc). Cold starts (new processes, with the bytecode an
installed package has) are compared with a bare `python -c pass` measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import save, table

RPPS = "10101010101"
YEAR = date.today().year  # the year `score` shows by default: it must hold the data
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_stats(pid: int) -> dict[str, float]:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "cpu_s": (int(stat[11]) + int(stat[12])) / TICKS,
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "switches": int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"]),
        "threads": int(status["Threads"]),
    }


def tree_stats(pid: int) -> dict[str, float]:
    """Sum over the process and its threads' counters (threads are in /proc/PID/task)."""
    total = {"cpu_s": 0.0, "switches": 0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        status = dict(line.split(":", 1) for line in (task / "status").read_text().splitlines() if ":" in line)
        total["cpu_s"] += (int(stat[11]) + int(stat[12])) / TICKS
        total["switches"] += int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return {**proc_stats(pid), **total}


def cold(command: list[str], starts: int, env: dict[str, str]) -> float:
    best = []
    for _ in range(starts):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=env)
        best.append(time.perf_counter() - started)
    return sorted(best)[len(best) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--starts", type=int, default=5, help="cold starts per command (median kept)")
    parser.add_argument("--folders", type=int, default=10)
    parser.add_argument("--files", type=int, default=2000, help="journals in the first folder (an old LGC)")
    parser.add_argument("--name", default="footprint")
    args = parser.parse_args()
    env = os.environ.copy()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        folders = []
        for i in range(args.folders):
            folder = tmp / f"lgc-{i}"
            folder.mkdir()
            for j in range(args.files if i == 0 else 1):
                event = {"kind": "consultation", "id": f"c{i}-{j}", "at": f"{YEAR}-01-01T10:00", "practitioner": RPPS}
                (folder / f"journal-{j:05d}.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
            folders.append(str(folder))
        run = [sys.executable, "-m", "forfait_agent", "--data-dir", str(home)]
        init = [*run, "init"] + [a for f in folders for a in ("--folder", f)]
        subprocess.run(init, check=True, capture_output=True, env=env)
        agent = subprocess.Popen([*run, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            time.sleep(3 + args.files / 500)  # start-up and first reading are not idle
            before = tree_stats(agent.pid)
            time.sleep(args.idle)
            after = tree_stats(agent.pid)
        finally:
            agent.terminate()
            agent.wait(timeout=30)
        cpu = after["cpu_s"] - before["cpu_s"]
        idle = {
            "seconds": args.idle,
            "folders": args.folders,
            "files": args.files + args.folders - 1,
            "cpu_s": round(cpu, 3),
            "cpu_percent_of_one_core": round(100 * cpu / args.idle, 3),
            "rss_mb": round(after["rss_mb"], 1),
            "wakeups_per_s": round((after["switches"] - before["switches"]) / args.idle, 2),
            "threads": after["threads"],
        }
        # Cold = a new process, with the bytecode an installed package has (pip and the Windows
        # bundle compile it): without it (PYTHONDONTWRITEBYTECODE in some shells and sandboxes)
        # every start would compile ~6 000 lines again, 40–55 ms that no cabinet pays.
        starts_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        starts_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        subprocess.run([*run, "status"], capture_output=True, check=True, env=starts_env)  # writes it
        subprocess.run([*run, "score", "--json"], capture_output=True, check=True, env=starts_env)
        bare = cold([sys.executable, "-c", "pass"], args.starts, starts_env)
        help_s = cold([*run, "--help"], args.starts, starts_env)
        score_s = cold([*run, "score"], args.starts, starts_env)
        score_json_s = cold([*run, "score", "--json"], args.starts, starts_env)
        status_s = cold([*run, "status"], args.starts, starts_env)
        scored = json.loads(subprocess.run([*run, "score", "--json"], capture_output=True, env=env).stdout)
        if not scored["practitioners"]:
            raise SystemExit("score saw no data: the cold start would be measured on an empty year")
    starts = {
        "bytecode": "compiled, as an installed package has it",
        "python_bare_s": round(bare, 4),
        "help_s": round(help_s, 4),
        "score_s": round(score_s, 4),
        "score_json_s": round(score_json_s, 4),
        "status_s": round(status_s, 4),
        "help_over_bare": round(help_s / bare, 1),
        "score_over_bare": round(score_s / bare, 1),
        "status_over_bare": round(status_s / bare, 1),
    }
    path = save(
        args.name,
        {
            "idle": idle,
            "cold_start": starts,
            "goals": {"cpu_percent_of_one_core": 0.2, "rss_mb": 60, "help_s": 0.1, "score_s": 0.25, "status_s": 0.25},
        },
    )
    print(
        table(
            [
                ("idle CPU (% of one core)", f"{idle['cpu_percent_of_one_core']:.3f} %", "< 0.2 %"),
                ("idle RSS", f"{idle['rss_mb']:.0f} MB", "< 60 MB"),
                ("wake-ups per second", f"{idle['wakeups_per_s']:.1f}", ""),
                ("cold start --help", f"{help_s * 1000:.0f} ms ({help_s / bare:.1f}× bare python)", "< 100 ms"),
                ("cold start score", f"{score_s * 1000:.0f} ms ({score_s / bare:.1f}× bare python)", "< 250 ms"),
                ("cold start score --json", f"{score_json_s * 1000:.0f} ms", "< 250 ms"),
                ("cold start status", f"{status_s * 1000:.0f} ms ({status_s / bare:.1f}× bare python)", "< 250 ms"),
            ],
            ("measure", "value", "goal"),
        )
    )
    print(f"→ {path}")


if __name__ == "__main__":
    main()
