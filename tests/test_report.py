"""Reports a doctor reads: the HTML report in a real headless browser, the terminal in a subprocess."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import RPPS_A, cli, ev, score_json, write_jsonl

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("chromium not installed: apt-get install chromium")


def browse(html: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium as the workplace runs it: no background network, fresh profile."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        html.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> tuple[Path, Path, dict]:
    home = tmp_path_factory.mktemp("home")
    cli(home, "demo", "--seed", "3")
    demo = home / "demo"
    return demo, demo / "report.html", score_json(demo)


def page_requests(html: Path, tmp: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """URLs the page itself asked for (Chromium's own background traffic is not the page's)."""
    netlog = tmp / f"{html.stem}.net.json"
    proc = browse(html, tmp, f"--log-net-log={netlog}", "--dump-dom")
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start_job and str(e["params"].get("network_isolation_key", "")).startswith("file://")
    ]
    return urls, proc


def test_html_report_is_self_contained_and_makes_no_request(demo_report, tmp_path: Path):
    _, html, _ = demo_report
    text = html.read_text(encoding="utf-8")
    assert "<script" not in text
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", text)
    assert "default-src 'none'" in text  # the browser itself refuses any fetch
    # The detector works: a page with a CDN stylesheet and a remote image is caught.
    control = tmp_path / "control.html"
    control.write_text(
        '<link rel="stylesheet" href="https://cdn.example.invalid/a.css"><img src="http://example.invalid/x.png">',
        encoding="utf-8",
    )
    assert len(page_requests(control, tmp_path)[0]) == 2
    urls, proc = page_requests(html, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert urls == []
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert console_errors == []


def test_html_totals_equal_score_json_and_charts_are_svg(demo_report, tmp_path: Path):
    _, html, score = demo_report
    dom = browse(html, tmp_path, "--dump-dom").stdout
    assert "Dotation numérique" in dom and "Résumé du cabinet" in dom
    for p in score["practitioners"]:
        row = re.search(rf'<tr data-rpps="{p["rpps"]}">(.*?)</tr>', dom, re.S).group(1)
        points = html_lib.unescape(re.search(r'data-field="points">([^<]+)<', row).group(1))
        euros = html_lib.unescape(re.search(r'data-field="euros">([^<]+)<', row).group(1))
        assert float(points.replace("\u00a0", "").replace(",", ".")) == p["points"]
        assert euros.endswith("\u00a0€")
        assert float(euros.removesuffix("\u00a0€").replace("\u00a0", "").replace(",", ".")) == p["euros"]
    assert dom.count("<svg") >= 3 * 8  # per practitioner: points per group + one chart per metric
    assert "Historique" in dom and "Déclaration sur amelipro" in dom


def test_screenshots_at_1280x800_and_a4_print(demo_report, tmp_path: Path):
    _, html, _ = demo_report
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-1280x800.png"
    proc = browse(html, tmp_path, "--window-size=1280,800", "--hide-scrollbars", f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.stat().st_size > 20_000
    pdf = ARTIFACTS / "report-a4.pdf"
    proc = browse(html, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0 and pdf.read_bytes().startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert pages >= 3  # one section per practitioner starts a new page


def test_report_html_option_and_declaration_helper(demo_report, tmp_path: Path):
    demo, _, _ = demo_report
    out = tmp_path / "rapport.html"
    cli(demo, "report", "--html", str(out))
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    text = cli(demo, "declaration").stdout
    assert "Déclaration sur amelipro" in text and "attestation de l'éditeur" in text
    assert "Campagne" in text


def test_terminal_actions_are_ordered_by_points_per_missing_event(home: Path, tmp_path: Path):
    # Socle met; dematerialisation (60 pts) misses 3 forms; apCV+MSS (20 pts) misses 1 FSE apCV.
    events = [ev("declaration", "d", indicator="equipement", year=2026, value=True)]
    events += [ev("teleservice", f"t{i}", service="dmt", online=True) for i in range(5)]
    events += [ev("mss_message", "m", recipient="x@patient.mssante.fr")]
    events += [ev("teleservice", f"a{i}", service=s, online=False) for i, s in enumerate(["atmp", "dsg", "spe"])]
    write_jsonl(tmp_path / "e.jsonl", events)
    cli(home, "scan", str(tmp_path))
    out = cli(home, "score", "--as-of", "2026-12-31").stdout
    first = (
        out.index("1 FSE avec l'appli carte Vitale (objectif ≥")
        if "objectif ≥" in out
        else out.index("1 FSE avec l'appli carte Vitale")
    )
    second = out.index("certificat AT-MP en ligne")
    assert first < second  # 20 points for 1 event beats 60 points for 3
    assert "+20 points" in out and "+60 points" in out
    assert "280 points = 1\u00a0960\u00a0€" in out


def test_history_shows_the_switch_to_donum(demo_report):
    demo, _, _ = demo_report
    out = cli(demo, "report").stdout
    assert "Historique" in out and "(FS)" in out and "(DONUM)" in out
    data = score_json(demo, "--year", "2025")
    assert data["point_value_eur"] == 7 and all(p["max_points"] == 1115 for p in data["practitioners"])
    assert RPPS_A in {p["rpps"] for p in data["practitioners"]}
