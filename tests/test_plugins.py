"""Plugins load through real entry points; a broken one is reported and never stops the agent."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from forfait_agent import Adapter
from forfait_agent.app import App

from .conftest import cli, score_json

TINY = '''
from forfait_agent import Adapter, RecordError, hookimpl


class PipeAdapter(Adapter):
    """`date|rpps|kind|id` lines: the smallest possible vendor format."""

    name = "pipe"
    patterns = ("*.pipe",)
    encoding = "cp1252"

    def parse(self, record):
        parts = (record.text or "").split("|")
        if len(parts) != 4:
            raise RecordError(f"{len(parts)} champs au lieu de 4")
        at, rpps, kind, ident = parts
        return [{"kind": kind, "id": ident, "at": at,
                 "practitioner": rpps or record.context.practitioner_for(None)}]


class ExplodingAdapter(Adapter):
    name = "boom"
    patterns = ("*.boom",)

    def parse(self, record):
        raise ZeroDivisionError("bug in vendor code")


@hookimpl
def forfait_agent_adapters():
    return [PipeAdapter(), ExplodingAdapter()]
'''


def install_plugin(site: Path, dist: str, module: str, source: str, entry: str | None = None) -> None:
    """Lay out an installed distribution (module + dist-info with entry_points.txt) on a path."""
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[forfait_agent]\n{entry or dist} = {module}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    install_plugin(path, "forfait-agent-tiny", "fa_tiny", TINY, "tiny")
    install_plugin(path, "forfait-agent-broken", "fa_broken", "import does_not_exist\n", "broken")
    monkeypatch.setenv("PYTHONPATH", str(path))
    monkeypatch.syspath_prepend(str(path))
    return path


def test_plugins_json_lists_entry_point_plugins_and_load_errors(home: Path, site: Path):
    data = {p["name"]: p for p in json.loads(cli(home, "plugins", "--json").stdout)}
    assert data["builtin"]["status"] == "ok"
    assert [a["name"] for a in data["builtin"]["adapters"]] == ["jsonl"]
    assert data["tiny"]["version"] == "1.2.3"
    assert [a["name"] for a in data["tiny"]["adapters"]] == ["pipe", "boom"]
    assert data["tiny"]["adapters"][0]["encoding"] == "cp1252"
    assert data["broken"]["status"] == "error"
    assert "does_not_exist" in data["broken"]["error"]
    text = cli(home, "plugins").stdout
    assert "en erreur" in text and "pipe" in text


def test_entry_point_adapter_ingests_and_broken_plugin_does_not_stop_scan(home: Path, site: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "journal.pipe").write_bytes(
        "2026-03-02T10:00|10101010101|consultation|c1\r\nligne abîmée\r\n2026-03-02T11:00||consultation|c2\r\n".encode(
            "cp1252"
        )
    )
    report = json.loads(cli(home, "scan", "--practitioner", "10202020202", "--json", str(data)).stdout)
    assert (report["new"], report["quarantined"], report["reasons"]) == (2, 1, {"invalid_record": 1})
    rpps = {p["rpps"] for p in score_json(home, "--as-of", "2026-12-31")["practitioners"]}
    assert rpps == {"10101010101", "10202020202"}


def test_deny_list_disables_a_plugin(home: Path, site: Path):
    data = {
        p["name"]: p
        for p in json.loads(cli(home, "plugins", "--json", env={"FORFAIT_AGENT_DISABLE_PLUGINS": "tiny"}).stdout)
    }
    assert data["tiny"]["status"] == "disabled"
    assert data["tiny"]["adapters"] == []


def test_adapter_that_always_raises_is_paused_and_others_go_on(home: Path, site: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.boom").write_text("\n".join(f"line {i}" for i in range(50)) + "\n", encoding="utf-8")
    (data / "b.jsonl").write_text(
        '{"kind": "consultation", "id": "c1", "at": "2026-03-02T10:00", "practitioner": "10101010101"}\n',
        encoding="utf-8",
    )
    app = App(home)
    report = app.ingestor.scan([data], context=app.settings.context())
    by_adapter = {r.adapter: r for r in report.files}
    assert by_adapter["boom"].reasons == {"adapter_error": 20}  # stopped at the threshold
    assert (by_adapter["boom"].unread_records, by_adapter["jsonl"].new) == (30, 1)
    assert app.ingestor.paused("boom")
    app.close()
    status = json.loads(cli(home, "status", "--json").stdout)
    boom = next(a for a in status["adapters"] if a["adapter"] == "boom")
    assert boom["disabled_at"] and "ZeroDivisionError" in boom["last_error"]
    assert any(p["plugin"] == "broken" for p in status["plugin_errors"])


class HangingAdapter:
    name = "hang"
    patterns = ("*.hang",)
    framing = "line"
    encoding = "utf-8"

    def parse(self, record):
        if "stuck" in record.text:
            import time

            time.sleep(30)
        return [{"kind": "consultation", "id": record.text, "at": "2026-03-02T10:00", "practitioner": "10101010101"}]


def test_hanging_adapter_costs_its_record_not_the_agent(home: Path, tmp_path: Path):
    import time

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.hang").write_text("ok1\nstuck\nok2\n", encoding="utf-8")
    (data / "b.jsonl").write_text(
        '{"kind": "consultation", "id": "j1", "at": "2026-03-02T10:00", "practitioner": "10101010101"}\n',
        encoding="utf-8",
    )
    app = App(home)
    app.ingestor.adapters["hang"] = HangingAdapter()
    app.ingestor.record_timeout = 0.5
    started = time.monotonic()
    report = app.ingestor.scan([data], context=app.settings.context())
    assert time.monotonic() - started < 10
    by_adapter = {r.adapter: r for r in report.files}
    assert (by_adapter["hang"].new, dict(by_adapter["hang"].reasons)) == (2, {"timeout": 1})  # ok2 read too
    assert by_adapter["jsonl"].new == 1
    assert not app.ingestor.paused("hang")
    app.close()


def test_adapter_stuck_on_several_records_is_paused(home: Path, tmp_path: Path):
    path = tmp_path / "a.hang"
    path.write_text("ok1\nstuck1\nstuck2\nstuck3\nok2\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["hang"] = HangingAdapter()
    app.ingestor.record_timeout = 0.3
    report = app.ingestor.scan([path], context=app.settings.context())
    (result,) = report.files
    # Three threads are stuck: the adapter rests; "ok2" waits for its next chance, unread.
    assert (result.new, dict(result.reasons), result.unread_records) == (1, {"timeout": 3}, 1)
    assert app.ingestor.paused("hang")
    assert app.store.position(str(path.resolve()), "hang").line_no == 4
    app.close()


def test_two_adapters_claiming_one_file_are_reported(home: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.hang").write_text("a\n", encoding="utf-8")
    app = App(home)
    app.ingestor.adapters["hang"] = HangingAdapter()

    class Other(HangingAdapter):
        name = "other"

    app.ingestor.adapters["other"] = Other()
    report = app.ingestor.scan([data], context=app.settings.context())
    assert report.conflicts == [(data / "x.hang", ["hang", "other"])]
    assert report.files == []
    app.close()


def test_fifty_megabyte_line_is_skipped_in_bounded_memory(home: Path, tmp_path: Path):
    import tracemalloc

    path = tmp_path / "huge.jsonl"
    good = '{"kind": "consultation", "id": "%s", "at": "2026-03-02T10:00", "practitioner": "10101010101"}\n'
    with path.open("w", encoding="utf-8") as handle:
        handle.write(good % "before")
        handle.write('{"kind": "consultation", "id": "' + "x" * (50 << 20) + '"}\n')
        handle.write(good % "after")
    app = App(home)
    tracemalloc.start()
    report = app.ingestor.scan([path], context=app.settings.context())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    app.close()
    assert (report.total("new"), dict(report.reasons())) == (2, {"line_too_long": 1})
    assert peak < 16 << 20  # a few MB of buffers, never the 50 MB line


def test_unattributed_events_are_kept_and_reattributed_without_rereading(home: Path, site: Path, tmp_path: Path):
    data = tmp_path / "cabinet"
    data.mkdir()
    (data / "journal.pipe").write_text(
        "2026-03-02T10:00||consultation|c1\n2026-03-02T11:00||consultation|c2\n", encoding="utf-8"
    )
    cli(home, "scan", str(data))  # no RPPS in the lines, no default, no mapping
    score = score_json(home, "--as-of", "2026-12-31")
    assert [p["rpps"] for p in score["practitioners"]] == ["inconnu"]
    status = json.loads(cli(home, "status", "--json").stdout)
    assert status["unattributed_events"] == 2
    # The hint names the config table as written (it once vanished, read as console markup).
    assert "([practitioners] ou default_practitioner)" in cli(home, "status", env={"COLUMNS": "300"}).stdout
    (data / "journal.pipe").unlink()  # the files are gone: re-attribution must not need them
    out = cli(home, "attribute", "10101010101", "--folder", str(data)).stdout
    assert out.startswith("2 événement(s)")
    score = score_json(home, "--as-of", "2026-12-31")
    assert [(p["rpps"], p["metrics"]["dmp"]["denominator"]) for p in score["practitioners"]] == [("10101010101", 2)]


class _Sniffing(Adapter):
    """Two formats sharing `*.log`: each claims only lines starting with its own tag."""

    patterns = ("*.log",)
    tag = b""

    def claims(self, head: bytes) -> bool:
        if self.tag == b"BUG":
            raise RuntimeError("bug in claims")
        return head.startswith(self.tag)

    def parse(self, record):
        at, ident = (record.text or "").split("|")[1:]
        return [{"kind": "consultation", "id": f"{self.name}-{ident}", "at": at, "practitioner": "10101010101"}]


def test_file_content_decides_between_adapters_and_unclaimed_files_are_ignored(home: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.log").write_text("AAA|2026-03-02T10:00|1\n", encoding="utf-8")
    (data / "b.log").write_text("BBB|2026-03-02T10:00|1\n", encoding="utf-8")
    (data / "c.log").write_text("CCC|2026-03-02T10:00|1\n", encoding="utf-8")
    app = App(home)
    for name, tag in (("aaa", b"AAA"), ("bbb", b"BBB")):
        app.ingestor.adapters[name] = type(name, (_Sniffing,), {"name": name, "tag": tag})()
    report = app.ingestor.scan([data], context=app.settings.context())
    assert sorted((f.path.name, f.adapter, f.new) for f in report.files) == [("a.log", "aaa", 1), ("b.log", "bbb", 1)]
    assert report.conflicts == [(data / "c.log", ["aaa", "bbb"])]  # neither claims it: still a conflict
    app.ingestor.adapters = {"aaa": app.ingestor.adapters["aaa"]}
    report = app.ingestor.scan([data], context=app.settings.context())
    assert report.ignored == [data / "b.log", data / "c.log"] and report.as_json()["ignored"] == 2
    assert report.as_json()["quarantined"] == 0
    app.ingestor.adapters = {"bug": type("bug", (_Sniffing,), {"name": "bug", "tag": b"BUG"})()}
    report = app.ingestor.scan([data], context=app.settings.context())
    assert len(report.files) == 3 and not report.ignored  # a failing claims() never hides a file
    app.close()
