"""mbox: a « Sent » folder that grows for years, read by the core's incremental mbox framing.

    python bench/mbox.py [--messages 20000] [--big-mb 60]

Measures, each `scan` in its own process (its memory is its own):
- backfill of an mbox of `--messages` ordinary messages plus one `--big-mb` MB message
  (a large attachment): messages per second and peak RSS;
- one message appended, then `scan` again: time and peak RSS — what every new sent message
  costs, which must not depend on the folder's size;
Reference in the same run: the standard library's `mailbox.mbox` reading every message's
headers of the same file (what re-reading the whole folder at each change costs at least).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save, table

SENDER = "martin@cabinet-martin.mssante.fr"
PATIENT = "279035121518989@patient.mssante.fr"  # the ANS test INS, never a real person


def message(i: int, body: bytes = b"Bonjour,\r\nci-joint le compte rendu.\r\n") -> bytes:
    return (
        (
            f"From - Mon Mar  2 10:00:00 2026\r\nFrom: Dr Martin <{SENDER}>\r\nTo: {PATIENT}\r\n"
            f"Date: Mon, 02 Mar 2026 10:{i % 60:02d}:00 +0100\r\nMessage-ID: <m{i}@cabinet-martin.mssante.fr>\r\n"
            "Subject: Compte rendu\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


def write_mbox(path: Path, messages: int, big_mb: int) -> None:
    with path.open("wb") as handle:
        for i in range(messages):
            handle.write(message(i))
            if i == messages // 2 and big_mb:
                piece = (b"QUJD" * 19 + b"\r\n") * 13_000  # ~1 MB of base64
                handle.write(message(10**9, b""))
                for _ in range(big_mb):
                    handle.write(piece)


# A middle process forks the measured one: Linux carries ru_maxrss across exec.
PROBE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True)
print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mb": resource.getrusage(
    resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "out": proc.stdout}))
"""

REFERENCE = """
import mailbox, sys
n = sum(1 for m in mailbox.mbox(sys.argv[1], create=False) if m["Message-ID"])
print(n)
"""


def measured(*command: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def scan(home: Path, path: Path) -> dict:
    result = measured(sys.executable, "-m", "forfait_agent", "--data-dir", str(home), "scan", "--json", str(path))
    return {**result, "report": json.loads(result.pop("out"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--big-mb", type=int, default=60)
    parser.add_argument("--name", default="mbox")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path, home = tmp / "Sent", tmp / "home"
        write_mbox(path, args.messages, args.big_mb)
        os.utime(path, (time.time() - 60, time.time() - 60))  # settled
        size_mb = path.stat().st_size / 1e6
        backfill = scan(home, path)
        reference = measured(sys.executable, "-c", REFERENCE, str(path))
        with path.open("ab") as handle:
            handle.write(message(args.messages + 1))
        os.utime(path, (time.time() - 60, time.time() - 60))
        append = scan(home, path)
    expected = args.messages + (1 if args.big_mb else 0)
    assert backfill["report"]["new"] == expected, backfill["report"]
    assert append["report"]["new"] == 1, append["report"]
    result = {
        "mbox_mb": round(size_mb, 1),
        "messages": expected,
        "backfill": {
            "seconds": round(backfill["seconds"], 3),
            "messages_per_s": round(expected / backfill["seconds"]),
            "peak_rss_mb": round(backfill["peak_rss_mb"], 1),
        },
        "append_one": {
            "seconds": round(append["seconds"], 3),
            "records_read": append["report"]["records"],
            "peak_rss_mb": round(append["peak_rss_mb"], 1),
        },
        "reference_stdlib_mailbox_full_read": {
            "seconds": round(reference["seconds"], 3),
            "peak_rss_mb": round(reference["peak_rss_mb"], 1),
        },
        # Both include an interpreter start; the agent's also its CLI, plugins and store.
        "ratio_full_read_to_append_one": round(reference["seconds"] / append["seconds"], 2),
    }
    out = save(args.name, result)
    print(
        table(
            [
                (
                    f"scan, backfill ({size_mb:.0f} MB)",
                    f"{backfill['seconds']:.2f} s",
                    f"{backfill['peak_rss_mb']:.0f} MB",
                ),
                ("scan, one message appended", f"{append['seconds']:.2f} s", f"{append['peak_rss_mb']:.0f} MB"),
                ("stdlib mailbox, full read", f"{reference['seconds']:.2f} s", f"{reference['peak_rss_mb']:.0f} MB"),
            ],
            ("mbox", "time", "peak RSS"),
        )
    )
    print(f"→ {out}")


if __name__ == "__main__":
    main()
