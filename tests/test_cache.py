"""The cache of validated rules files and settings (cache.py): a shortcut that never changes a
result, whatever the cache folder holds."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from forfait_agent import rules as rules_module
from forfait_agent.cache import CACHE_DIR, Cache
from forfait_agent.config import ConfigError, Settings, load_settings
from forfait_agent.rules import RulesError, builtin_rules_dir, load_rules_file

from .conftest import RPPS_A, cli


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "2026.toml"
    shutil.copy(builtin_rules_dir() / "2026.toml", path)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / CACHE_DIR)


def _never(*args: object) -> None:
    raise AssertionError("validated again")


def test_a_rules_file_is_validated_once_then_read_from_the_cache(rules_file, cache, monkeypatch):
    first = load_rules_file(rules_file, cache)
    assert (cache.folder / "rules-2026.pickle").stat().st_mode & 0o077 == 0 or os.name == "nt"
    monkeypatch.setattr(rules_module, "parse_rules", _never)
    again = load_rules_file(rules_file, cache)
    assert again == first and again is not first
    assert again.link_windows == first.link_windows and again.max_points == first.max_points


def test_an_edited_rules_file_is_validated_again(rules_file, cache):
    load_rules_file(rules_file, cache)
    text = rules_file.read_text(encoding="utf-8")
    rules_file.write_text(text.replace('title = "', 'title = "Modifié : ', 1), encoding="utf-8")
    assert load_rules_file(rules_file, cache).title.startswith("Modifié : ")
    rules_file.write_text(text.replace('scheme = "donum"', 'scheme = "autre"', 1), encoding="utf-8")
    with pytest.raises(RulesError) as cached:
        load_rules_file(rules_file, cache)
    with pytest.raises(RulesError) as uncached:
        load_rules_file(rules_file)
    assert str(cached.value) == str(uncached.value)
    assert "scheme : valeur non reconnue (attendu : 'forfait_structure' ou 'donum')" in str(cached.value)


def test_a_damaged_cache_entry_is_ignored_and_replaced(rules_file, cache):
    expected = load_rules_file(rules_file)
    entry = cache.folder / "rules-2026.pickle"
    cache.folder.mkdir()
    for damage in (b"", b"not a pickle", pickle.dumps(("another key", expected))[:-7], pickle.dumps(42)):
        entry.write_bytes(damage)
        assert load_rules_file(rules_file, cache) == expected
        assert entry.read_bytes() != damage


class _Exploit:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, ...]:
        return (os.mkdir, (str(self.target),))


def test_a_cache_entry_cannot_make_the_program_call_anything(rules_file, cache, tmp_path):
    load_rules_file(rules_file, cache)
    entry = cache.folder / "rules-2026.pickle"
    key, _ = pickle.loads(entry.read_bytes())
    entry.write_bytes(pickle.dumps((key, _Exploit(tmp_path / "planted"))))
    assert load_rules_file(rules_file, cache).year == 2026
    assert not (tmp_path / "planted").exists()


def test_a_cache_folder_that_cannot_be_written_only_costs_time(rules_file, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    assert load_rules_file(rules_file, Cache(blocked)) == load_rules_file(rules_file)


def test_settings_come_from_the_cache_until_the_file_or_a_variable_changes(tmp_path, cache):
    config = tmp_path / "config.toml"
    config.write_text('[names]\n"10101010101" = "Dr A. Martin"\n', encoding="utf-8")
    assert load_settings(config, {}, cache).names == {RPPS_A: "Dr A. Martin"}
    assert (cache.folder / "settings.pickle").exists()
    assert load_settings(config, {}, cache).names == {RPPS_A: "Dr A. Martin"}
    config.write_text('[names]\n"10101010101" = "Dr A. Martin-Durand"\n', encoding="utf-8")
    assert load_settings(config, {}, cache).names == {RPPS_A: "Dr A. Martin-Durand"}
    overridden = load_settings(config, {"FORFAIT_AGENT_DEFAULT_PRACTITIONER": RPPS_A}, cache)
    assert overridden.default_practitioner == RPPS_A
    assert load_settings(config, {}, cache).default_practitioner is None
    config.unlink()
    assert load_settings(config, {}, cache).names == {}


def test_invalid_settings_fail_the_same_with_a_cache(tmp_path, cache):
    config = tmp_path / "config.toml"
    config.write_text("keep_years = 3\n", encoding="utf-8")
    load_settings(config, {}, cache)
    config.write_text('keep_years = "trois"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as cached:
        load_settings(config, {}, cache)
    with pytest.raises(ConfigError) as uncached:
        load_settings(config, {})
    assert str(cached.value) == str(uncached.value) and "keep_years" in str(cached.value)
    config.write_text("keep_years = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="FORFAIT_AGENT_NAMES"):
        load_settings(config, {"FORFAIT_AGENT_NAMES": "{pas du JSON"}, cache)


def test_score_prints_the_same_from_a_cold_and_a_warm_cache(home: Path):
    cli(home, "demo", "--practitioners", "1")
    shutil.rmtree(home / "demo" / CACHE_DIR, ignore_errors=True)
    cold = cli(home / "demo", "score").stdout
    assert (home / "demo" / CACHE_DIR / "settings.pickle").exists()
    assert cli(home / "demo", "score").stdout == cold


def test_an_entry_written_by_another_version_is_not_used(rules_file, cache, monkeypatch):
    from forfait_agent import cache as cache_module

    load_rules_file(rules_file, cache)
    monkeypatch.setattr(cache_module, "__version__", "0.0.0-autre")
    validated = []
    parse = rules_module.parse_rules
    monkeypatch.setattr(rules_module, "parse_rules", lambda *args: validated.append(args) or parse(*args))
    load_rules_file(rules_file, cache)
    assert validated


CONFIG_WITH_SECRETS = """
default_practitioner = " 810101010101 "
keep_years = 2
[practitioners]
"Dr.Martin@cabinet-martin.mssante.fr" = "810202020202"
"login-lgc-martin" = " 10101010101"
[names]
"10101010101" = "Dr A. Martin"
[[folders]]
path = "/srv/exports"
practitioner = "10101010101"
[plugins.monlgc]
token = "jeton-secret-123"
depuis = 2026-01-01
tables = { "a" = [1, 2.5, "trois"] }
"""


def test_identities_and_plugin_options_are_never_copied_into_the_cache(tmp_path, cache, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_WITH_SECRETS, encoding="utf-8")
    env = {"FORFAIT_AGENT_PRACTITIONERS": '{"secretariat@cabinet.fr": "10303030303"}'}
    for environ in ({}, env):
        expected = load_settings(config, environ)
        load_settings(config, environ, cache)
        stored = (cache.folder / "settings.pickle").read_bytes()
        for secret in (b"cabinet-martin", b"login-lgc", b"jeton-secret", b"secretariat", b"trois"):
            assert secret not in stored
        with monkeypatch.context() as patch:
            patch.setattr(Settings, "model_validate", _never)  # read from the cache, not validated
            warm = load_settings(config, environ, cache)
        assert warm == expected and warm.model_fields_set == expected.model_fields_set
        assert warm.practitioners == expected.practitioners and warm.plugins == expected.plugins
    assert warm.practitioners == {"secretariat@cabinet.fr": "10303030303"}
