"""One data folder's state, opened lazily: settings, logs, store, plugins, rules, scoring.

Modules are imported where first needed: `score` never loads the plugins, the ingestion
pipeline or the logging stack, `status` never the rules, which keeps their cold start short
on an old PC.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .paths import COMMANDS_LOG, config_path
from .store import Store

if TYPE_CHECKING:
    from .cache import Cache
    from .config import Settings
    from .ingest import Ingestor
    from .plugins import Plugins
    from .rules import RuleBook
    from .scoring import Score

PARIS = ZoneInfo("Europe/Paris")


def write_atomically(path: Path, text: str) -> None:
    """Readers (a browser, another tool) never see a half-written file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


NETWORK_WARNING = (
    "le dossier des données est sur un partage réseau : la base utilise le journal classique de SQLite "
    "(le mode WAL n'y fonctionne pas) ; un dossier local est plus sûr et plus rapide"
)


def secure_data_dir(home: Path, platform: str | None = None) -> list[str]:
    """Create the data folder; on a new installation, make it readable by the user only.

    POSIX does it with the umask; Windows needs an access list (a folder made under `D:\\`
    inherits "Authenticated Users" from it). A folder that already holds other files is the
    user's own: its permissions are left alone, with a warning. Either way the installation's
    salt is then created, which marks the folder as examined: the next commands are silent.
    """
    from .filesystem import restrict_to_owner
    from .privacy import SALT_FILE, load_or_create_salt

    created = not home.exists()
    home.mkdir(parents=True, exist_ok=True)
    if not (platform or sys.platform).startswith("win") or (home / SALT_FILE).exists():
        return []
    if not created and any(home.iterdir()):
        warnings = [
            f"le dossier des données {home} contient déjà d'autres fichiers : ses droits d'accès ne sont pas "
            "modifiés ; vérifiez que seul votre compte peut le lire"
        ]
    else:
        warning = restrict_to_owner(home, platform)
        warnings = [warning] if warning else []
    load_or_create_salt(home)
    return warnings


def today() -> date:
    """Today in the cabinet's time zone, whatever the machine's. FORFAIT_AGENT_TODAY (AAAA-MM-JJ)
    replaces it, so tests and demonstrations can show a given day (a closed year, a campaign)."""
    fixed = os.environ.get("FORFAIT_AGENT_TODAY")
    if fixed:
        return date.fromisoformat(fixed)
    return datetime.now(PARIS).date()


class App:
    def __init__(
        self, home: Path, config: str | Path | None = None, *, verbose: bool = False, log_file: str = COMMANDS_LOG
    ) -> None:
        if os.name == "posix":
            os.umask(0o077)  # every file the agent writes is readable by the user only
        self.home = home
        self.warnings = secure_data_dir(home)
        self.config_path = config_path(home, config)
        self.verbose = verbose
        self.log_file = log_file
        # Long-running writers (`run`, `scan`) check the store's integrity when they open it;
        # `holds_lock`: this process is the agent (it may set a damaged store aside).
        self.check_store = False
        self.holds_lock = False
        self.on_notice: Callable[[str], None] = lambda text: None

    @cached_property
    def settings(self) -> Settings:
        from .config import load_settings

        return load_settings(self.config_path, cache=self.cache)

    @cached_property
    def log(self) -> Any:
        from .logs import configure_logging

        log = configure_logging(self.home, verbose=self.verbose, log_file=self.log_file)
        for warning in self.warnings:
            log.warning("data_dir_warning", message=warning)
        return log

    @cached_property
    def store(self) -> Store:
        from .lifecycle import open_store

        store = open_store(
            self.home, check=self.check_store, may_set_aside=self._store_is_ours, notice=self._store_notice
        )
        if store.on_network:
            self.warnings.append(NETWORK_WARNING)
        return store

    def _store_is_ours(self) -> bool:
        """No agent other than this process uses the store."""
        if self.holds_lock:
            return True
        from .lock import DataDirLock

        return DataDirLock(self.home).holder() is None

    def _store_notice(self, text: str) -> None:
        self.log.error("store_rebuilt", message=text)
        self.on_notice(text)

    @cached_property
    def plugins(self) -> Plugins:
        from .plugins import Plugins

        plugins = Plugins(data_dir=self.home, options=self.settings.plugins)
        for info in plugins.infos:
            if info.status == "error":
                self.log.warning("plugin_error", plugin=info.name, error=info.error)
        return plugins

    @cached_property
    def cache(self) -> Cache:
        from .cache import CACHE_DIR, Cache

        return Cache(self.home / CACHE_DIR)

    @cached_property
    def rulebook(self) -> RuleBook:
        from .rules import RuleBook

        return RuleBook(self.home / "rules", self.cache)

    @cached_property
    def ingestor(self) -> Ingestor:
        from .ingest import Ingestor
        from .privacy import Hasher, load_or_create_salt

        hasher = Hasher(load_or_create_salt(self.home))
        return Ingestor(
            self.store, self.plugins.adapters, hasher, self.log, settle_seconds=self.settings.settle_seconds
        )

    @property
    def names(self) -> dict[str, str]:
        """Display names of practitioners by RPPS, from the configuration."""
        return dict(self.settings.names)

    def default_year(self) -> int:
        year = today().year
        years = self.rulebook.years()
        return year if year in years or not years else max(y for y in years if y <= year)

    def score(self, year: int, as_of: date, practitioner: str | None = None) -> Score:
        from .scoring import Window, compute_score

        rules = self.rulebook.get(year)
        window = Window(year, as_of)
        found = self.store.tallies(window.start, window.end, rules.link_windows, practitioner)
        ytd = {rpps: periods[""] for rpps, periods in found.items()}
        declarations = self.store.declarations(year)
        if practitioner:
            declarations = {k: v for k, v in declarations.items() if k == practitioner}
        wanted = [practitioner] if practitioner else []
        return compute_score(rules, as_of, ytd, declarations, wanted)

    def as_of_for(self, year: int) -> date:
        """The natural as-of date of a year: today for the current year, 31 December before."""
        return min(today(), date(year, 12, 31))

    def history(self, practitioner: str | None = None) -> list[Score]:
        """One score per year that has both data and rules, oldest first (backfilled years)."""
        known = set(self.rulebook.years())
        return [
            self.score(year, self.as_of_for(year), practitioner)
            for year in self.store.years()
            if year in known and year <= today().year
        ]

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
