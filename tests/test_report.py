"""Reports a doctor reads: the HTML report in a real headless browser, the terminal in a subprocess."""

from __future__ import annotations

import html as html_lib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from .conftest import RPPS_A, RPPS_B, TEST_INS, cli, ev, score_json, write_jsonl

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def flat(text: str) -> str:
    """Terminal output with line wrapping undone: wrapped labels read as one line again."""
    return re.sub(r"[ \n]+", " ", text)  # not str.split(): it would also eat the narrow no-break spaces


def fmt_int(value: float) -> str:
    return f"{round(value):,}".replace(",", "\u202f")


def points_word(value: float) -> str:
    """French: below two, the singular (« 0 point », « 1,5 point »)."""
    return "point" if value < 2 else "points"


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
        assert float(points.replace("\u202f", "").replace(",", ".")) == p["points"]
        assert euros.endswith("\u202f€")
        assert float(euros.removesuffix("\u202f€").replace("\u202f", "").replace(",", ".")) == p["euros"]
        # the next action first: its gain in the summary, linking to the list
        if not p["gate_met"] and p["indicators"][0].get("declared") is None:
            assert f'<a href="#a-{p["rpps"]}">rapporte +' in row
        elif p["points"] == p["max_points"]:
            assert "tout est atteint" in row
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


# Text that runs past the right edge of the viewport, wherever it is (a cell, a nowrap span…).
OVERFLOW = r"""(() => {
  const past = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const range = document.createRange();
    range.selectNodeContents(node);
    if (range.getBoundingClientRect().right > innerWidth + 0.5) past.push(node.textContent.trim().slice(0, 60));
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth, past: past};
})()"""


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_report_fits_a_phone_and_a_desktop_without_sideways_scrolling(demo_report, tmp_path: Path, width, height):
    from .devtools import Chromium

    _, html, score = demo_report
    browser = Chromium(chromium(), tmp_path / "profile")
    try:
        browser.open(html.resolve().as_uri(), width, height)
        layout = browser.evaluate(OVERFLOW)
        assert layout == {"scrollWidth": width, "innerWidth": width, "past": []}
        text = browser.evaluate("document.body.innerText")
        for p in score["practitioners"]:  # every amount is on the page, whatever the width
            assert f"RPPS {p['rpps']}" in text
            assert f"{fmt_int(p['euros'])}\u202f€" in text
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"report-{width}px.png"
        browser.screenshot(shot)
        assert shot.read_bytes()[16:20] == width.to_bytes(4, "big")  # PNG width: the page's own
    finally:
        browser.close()


def test_report_html_option_and_declaration_helper(demo_report, tmp_path: Path):
    demo, _, _ = demo_report
    out = tmp_path / "rapport.html"
    cli(demo, "report", "--html", str(out))
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    text = cli(demo, "declaration").stdout
    assert "Déclaration sur amelipro" in text and "attestation de l'éditeur" in text
    assert "campagne de déclaration" in text and "Calendrier" in text


def test_terminal_actions_are_ordered_by_euros_then_effort(home: Path, tmp_path: Path):
    # Socle met; dematerialisation (60 pts) misses 3 forms; apCV+MSS (20 pts) misses 1 FSE apCV.
    events = [ev("declaration", "d", indicator="equipement", year=2026, value=True)]
    events += [ev("teleservice", f"t{i}", service="dmt", online=True) for i in range(5)]
    events += [ev("mss_message", "m", recipient="x@patient.mssante.fr")]
    events += [ev("teleservice", f"a{i}", service=s, online=False) for i, s in enumerate(["atmp", "dsg", "spe"])]
    write_jsonl(tmp_path / "e.jsonl", events)
    cli(home, "scan", str(tmp_path))
    out = flat(cli(home, "score", "--as-of", "2026-12-31", env={"COLUMNS": "200"}).stdout)
    first = out.index("rapporte +420\u202f€")  # 60 points = 420 € first, though it needs 3 forms
    second = out.index("rapporte +140\u202f€")
    assert first < second
    assert out.index("À faire en priorité") < out.index("Indicateurs")  # actions come first
    assert "280 points = 1\u202f960\u202f€" in out


def test_a_missing_declaration_that_unlocks_everything_comes_first(home: Path, tmp_path: Path):
    """Usage meets every optional indicator but the equipment is not declared: declaring it is the
    one action that pays the whole year, with the exact command to copy for this doctor."""
    events = [ev("teleservice", f"t{i}", service=s, online=True) for i, s in enumerate(["dmt", "pse", "aat"] * 3)]
    events += [ev("fse", f"f{i}", vitale="apcv") for i in range(3)]
    events += [ev("mss_message", "m", recipient=f"{TEST_INS}@patient.mssante.fr")]
    events += [ev("consultation", "c0", patient=TEST_INS)]  # the message follows a consultation
    events += [ev("consultation", "c1", practitioner=RPPS_B)]
    write_jsonl(tmp_path / "e.jsonl", events)
    cli(home, "scan", str(tmp_path))
    env = {"COLUMNS": "200", "FORFAIT_AGENT_TODAY": "2026-06-30"}
    out = flat(cli(home, "score", "--practitioner", RPPS_A, env=env).stdout)
    todo = out[out.index("À faire en priorité") : out.index("Indicateurs")]
    first = todo.split("•")[1]
    assert "rapporte +2\u202f100\u202f€" in first  # 280 + 20 points
    assert "Logiciel référencé Ségur" in first and "declare equipement oui" in first
    # A cabinet of two doctors: the command names the practitioner…
    decl = flat(cli(home, "declaration", env=env).stdout)
    assert f"declare equipement oui --practitioner {RPPS_A}" in decl
    assert f"declare equipement oui --practitioner {RPPS_B}" in decl
    assert "indicateur « equipement »" in decl
    # … except the default one, whom `declare` picks by itself; and it does what it says.
    (home / "config.toml").write_text(f'default_practitioner = "{RPPS_A}"\n', encoding="utf-8")
    decl = flat(cli(home, "declaration", env=env).stdout)
    command = re.search(r"(\S+ -m forfait_agent --data-dir \S+ declare equipement oui)(?! --)", decl).group(1)
    assert f"declare equipement oui --practitioner {RPPS_B}" in decl
    cli(home, *command.split()[command.split().index("declare") :], env=env)
    assert score_json(home, "--as-of", "2026-06-30")["practitioners"][0]["gate_met"] is True


def test_a_finished_year_reads_as_a_result_and_the_campaign_as_closed(home: Path, tmp_path: Path):
    events = [ev("prescription", f"p{i}", at="2025-05-02T10:00:00", electronic=i < 2) for i in range(10)]
    write_jsonl(tmp_path / "e.jsonl", events)
    cli(home, "scan", str(tmp_path))
    late = flat(cli(home, "score", "--year", "2025", env={"FORFAIT_AGENT_TODAY": "2026-03-01"}).stdout)
    assert "résultat de l'année (arrêté au 31/12/2025)" in late
    assert "d'ici le 31/12" not in late and "Au 31/12" not in late
    assert "campagne de déclaration close (du 15/12/2025 au 08/02/2026)" in late
    assert "Ce qui a manqué" in late and "il manquait" in late
    assert "declare " not in late  # nothing can be declared any more
    during = flat(cli(home, "score", "--year", "2025", env={"FORFAIT_AGENT_TODAY": "2026-01-10"}).stdout)
    assert "campagne de déclaration ouverte, du 15/12/2025 au 08/02/2026" in during
    assert "declare logiciel_segur oui --year 2025" in during
    ahead = flat(
        cli(home, "score", "--year", "2025", "--as-of", "2025-06-30", env={"FORFAIT_AGENT_TODAY": "2025-06-30"}).stdout
    )
    assert "campagne de déclaration à venir, du 15/12/2025 au 08/02/2026" in ahead
    assert "d'ici le 31/12" in ahead


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_terminal_score_fits_the_width_and_shows_every_label_and_value(demo_report, columns: int):
    demo, _, score = demo_report
    proc = cli(demo, "score", env={"COLUMNS": str(columns)})
    lines = proc.stdout.splitlines()
    # A command to copy is printed whole on its own line (wider than the terminal, the terminal
    # folds it and copies it back as one line); every other line fits.
    commands = [shlex.split(line) for line in lines if line.startswith(f"  {sys.executable} -m forfait_agent ")]
    too_wide = [line for line in lines if cell_len(line) > columns and not line.startswith(f"  {sys.executable} ")]
    assert too_wide == []
    for p in score["practitioners"]:  # « declare it » is first when only the declaration is missing
        if not p["gate_met"] and p["indicators"][0].get("declared") is None:
            assert [str(demo), "declare", "equipement", "oui", "--practitioner", p["rpps"]] in [c[4:] for c in commands]
    # French no-break spaces are not line breaks: « 30 % », « 2 940 € » never split, no line
    # starts with the punctuation that French types after a space.
    assert not re.search(r"\n *[%€:;»]", proc.stdout)
    text = flat(proc.stdout)
    rules = tomllib.loads(
        (Path(__file__).resolve().parent.parent / "rules" / f"{score['year']}.toml").read_text("utf-8")
    )
    labels = {i["id"]: i["label"] for i in rules["indicators"]}
    for p in score["practitioners"]:
        block = text[text.index(f"RPPS {p['rpps']}") :]
        assert f"{fmt_int(p['points'])} {points_word(p['points'])} = {fmt_int(p['euros'])}\u202f€" in block
        for ind in p["indicators"]:
            assert labels[ind["id"]] in block
        for metric in ("teletransmission", "dmp", "eprescription", "teleservice:dsg"):
            m = p["metrics"][metric]
            assert f"{fmt_int(m['numerator'])} / {fmt_int(m['denominator'])}" in block
            assert f"{m['rate'] * 100:.1f}".replace(".", ",").removesuffix(",0") + "\u202f%" in block
    assert "…" not in text  # nothing was cut
    assert " · Socle · " in text and " · socle · " not in text  # groups by their name, not their id


def test_configured_names_appear_with_the_rpps(home: Path, tmp_path: Path):
    (home / "config.toml").write_text(f'[names]\n"{RPPS_A}" = "Dr Hélène Roux"\n', encoding="utf-8")
    write_jsonl(tmp_path / "e.jsonl", [ev("consultation", "c1")])
    cli(home, "scan", str(tmp_path))
    assert f"Dr Hélène Roux — RPPS {RPPS_A}" in cli(home, "score").stdout
    html = tmp_path / "r.html"
    cli(home, "report", "--html", str(html))
    assert f"Dr Hélène Roux — RPPS {RPPS_A}" in html.read_text(encoding="utf-8")
    (home / "config.toml").write_text('[names]\n"123" = "Dr X"\n', encoding="utf-8")
    proc = cli(home, "score", check=False)
    assert proc.returncode == 2 and "names" in proc.stderr and "11 chiffres" in proc.stderr


def test_history_shows_the_switch_to_donum(demo_report):
    demo, _, _ = demo_report
    out = cli(demo, "report").stdout
    assert "Historique" in out and "(forfait structure)" in out and "(dotation numérique, en cours)" in out
    data = score_json(demo, "--year", "2025")
    assert data["point_value_eur"] == 7 and all(p["max_points"] == 1115 for p in data["practitioners"])
    assert RPPS_A in {p["rpps"] for p in data["practitioners"]}


@pytest.mark.parametrize("columns", [60, 80])
def test_amounts_are_never_cut_at_their_no_break_spaces(home: Path, columns: int):
    """« 9 695 € » on one line, whatever the width: rich must not break at a no-break space."""
    out = cli(home, "rules", "list", env={"COLUMNS": str(columns)}).stdout
    assert "…" not in out  # nothing cut either
    lines = out.splitlines()
    for amount in ("885 pts", "6\u202f195\u202f€", "1\u202f385 pts", "9\u202f695\u202f€", "2\u202f940\u202f€"):
        assert any(amount in line for line in lines), (amount, out)


def test_totals_say_point_in_the_singular_below_two(demo_report):
    """French: « 0 point », « 1,5 point », « 2 points » (the demo's third doctor misses the socle)."""
    demo, html, score = demo_report
    assert any(p["points"] == 0 for p in score["practitioners"])
    out = cli(demo, "score", env={"COLUMNS": "120"}).stdout
    assert "Total : 0 point = 0\u202f€" in out and "Total : 420 points" in out
    assert not re.search(r"(?<![\d,\u202f])0 points", out)
    page = html.read_text(encoding="utf-8")
    assert re.search(r'data-field="points">0</span> point = ', page)


_CELL = st.text(st.sampled_from("aé €%/·≈0123456789\u202f\u00a0│█░✔✘≥—漢🙂"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(finished=st.booleans(), rows=st.lists(st.lists(_CELL, min_size=6, max_size=6), min_size=1, max_size=12))
def test_the_metrics_table_is_as_wide_as_rich_measures_it(finished: bool, rows: list[list[str]]):
    """The wide table or the stacked one is chosen from a width computed without rich: it must be
    exactly rich's, or a table would be cut (or stacked for nothing) at some terminal width."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.text import Text

    from forfait_agent.report import _metrics_table, _metrics_table_width

    cells = [[*row[:4], Text(row[4], style="green"), row[5]][: 5 if finished else 6] for row in rows]
    console = Console(file=io.StringIO(), width=80)
    measured = Measurement.get(console, console.options.update_width(10_000), _metrics_table(cells, finished))
    assert _metrics_table_width(cells, finished) == measured.maximum
