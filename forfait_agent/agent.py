"""`forfait-agent run`: one writer per data folder, woken by watchdog, swept on a timer."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from .app import write_atomically
from .console import dumps_json
from .tailer import Tailer
from .watch import Watcher

SCORE_FILE = "score.json"
DEBOUNCE = 0.2  # seconds to let a burst of events settle before sweeping
SCORE_EVERY = 0.25  # seconds between two score.json while events keep landing (at least; see below)
SCORE_SHARE = 0.2  # share of the agent's time that scoring may take while events keep landing
CHECKPOINT_IDLE = 300.0  # seconds without new events before the WAL is checkpointed
REPORT_EVERY = 60.0  # seconds between two HTML reports while events keep landing
WAIT_SLICE = 1.0  # longest uninterrupted wait: Ctrl-C / Ctrl-Break act within this
RESTART_FIRST = 1.0  # seconds before the loop starts again after an error; doubled each time
RESTART_MAX = 300.0
HEALTHY_AFTER = 600.0  # a pass that ran this long without error resets the restart back-off
BUSY_LOG_EVERY = 60.0  # seconds between two log lines while the database stays locked


class Agent:
    """The live loop. `stop` may be set from a signal handler or another thread."""

    def __init__(self, app: Any, *, force_polling: bool = False) -> None:
        self.app = app
        self.settings = app.settings
        self.log = app.log
        self.stop = threading.Event()
        self.force_polling = force_polling
        self.tailer = Tailer(app.ingestor, self.settings, self.log, exclude=app.home)
        app.ingestor.should_stop = self.stop.is_set
        self.watcher = Watcher(
            [(f.path.resolve(), f.recursive) for f in self.settings.folders],  # as the sweep names files
            force_polling=force_polling,
            poll_interval=self.settings.poll_interval,
            log=self.log,
        )
        self.score_due: float | None = None
        self.score_written = -SCORE_EVERY  # monotonic time of the last score.json
        self.score_gap = SCORE_EVERY
        self.report_written = -REPORT_EVERY  # monotonic time of the last HTML report
        self.report_stale = False
        self.watcher_started = False
        self._busy_last = self._busy_next = 0.0
        self.retained_on: date | None = None

    def install_signal_handlers(self) -> None:
        """Stop on Ctrl-C, Ctrl-Break, SIGTERM or SIGHUP. A Python signal handler runs between two
        bytecodes of the main thread, which may at that moment hold the lock `Event.set()` takes
        (inside `Event.wait`): setting the event there would wait for itself forever (seen as an
        agent that ignored SIGTERM). The handler only writes the signal's number to a pipe; a
        small thread reads it and sets the events, once the main thread lets go of the lock."""
        read_end, write_end = os.pipe()

        def relay() -> None:
            while data := os.read(read_end, 1):
                self.log.info("signal", signum=data[0])
                self.stop.set()
                self.watcher.wake.set()

        threading.Thread(target=relay, name="signal-relay", daemon=True).start()

        def handler(signum: int, _frame: Any) -> None:
            os.write(write_end, bytes([signum & 0xFF]))  # no lock, no allocation that can block

        for name in ("SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, handler)

    def run(self) -> None:
        """Run until `stop` is set. Supervised: whatever goes wrong in a pass (a database held
        by another program, a full disk, a bug) is logged with a French summary and the loop
        starts again after a growing pause; nothing a watched file holds can end the agent."""
        self.log.info("agent_start", folders=len(self.settings.folders), pid=os.getpid())
        self.app.store.should_stop = self.stop.is_set
        self.app.store.on_busy = self._busy
        failures = 0
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    self._loop()
                except Exception as exc:
                    if self.stop.is_set():
                        break
                    # A pass that lasted starts the back-off over; a crash loop slows down to RESTART_MAX.
                    failures = 1 if time.monotonic() - started >= HEALTHY_AFTER else failures + 1
                    delay = min(RESTART_FIRST * 2 ** (failures - 1), RESTART_MAX)
                    self.log.error(
                        "agent_error",
                        summary=f"Erreur inattendue ({type(exc).__name__}) : l'agent reprend dans {delay:g} s.",
                        error=type(exc).__name__,
                        seconds=delay,
                        exc_info=True,
                    )
                    self._wait(self.stop, delay)
        finally:
            self.watcher.stop()
            if self.score_due is not None or self.report_stale:
                try:
                    self.refresh_score(final=True)
                except Exception:
                    self.log.exception("final_score_failed", summary="Score final non écrit à l'arrêt.")
            self.log.info("agent_stop")

    def _busy(self, waited: float) -> None:
        """The database is locked by another program: say so once a minute, never give up."""
        if waited < self._busy_last:  # a new wait began
            self._busy_next = 0.0
        self._busy_last = waited
        if waited < self._busy_next:
            return
        self._busy_next = waited + BUSY_LOG_EVERY
        self.log.warning(
            "database_busy",
            seconds=round(waited, 1),
            summary="Base de données verrouillée par un autre programme : l'agent attend qu'elle se libère.",
        )

    @staticmethod
    def _wait(event: threading.Event, timeout: float) -> bool:
        """`event.wait(timeout)` in slices of at most a second: Windows delivers Ctrl-C and
        Ctrl-Break only between two slices (before Python 3.14 it cannot interrupt a wait)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if event.wait(max(0.0, min(left, WAIT_SLICE))):
                return True
            if left <= WAIT_SLICE:
                return False

    def _loop(self) -> None:
        """One supervised life of the live loop: a full sweep, then wait for changes."""
        if not self.watcher_started:
            self.watcher.start()
            self.watcher_started = True
            with self.app.store.transaction():
                self.app.store.set_meta("agent_modes", json.dumps(self.watcher.modes))
        last_new = time.monotonic()
        checkpointed = False
        self._retain()
        self._sweep(None, set())
        # Folders watched natively need a full sweep only as a safety net; polled (network) or
        # absent ones are only ever seen by sweeping.
        all_native = all(mode.startswith("native") for mode in self.watcher.modes.values())
        interval = (
            max(self.settings.poll_interval, self.settings.rescan_interval)
            if all_native
            else (self.settings.poll_interval)
        )
        next_full = time.monotonic() + (
            min(interval, self.settings.settle_seconds) if self.tailer.unsettled else interval
        )
        while not self.stop.is_set():
            timeout = max(0.0, next_full - time.monotonic())
            if self.score_due is not None:
                timeout = min(timeout, max(0.0, self.score_due - time.monotonic()))
            if self.report_stale:
                timeout = min(timeout, max(0.0, self.report_written + REPORT_EVERY - time.monotonic()))
            resume = self.app.ingestor.next_resume()
            if resume is not None:  # a paused adapter gets its next chance: sweep everything then
                timeout = min(timeout, max(0.0, resume - time.monotonic()))
                next_full = min(next_full, resume)
            woke = self._wait(self.watcher.wake, timeout)
            if self.stop.is_set():
                break
            only: set[str] | None = None
            renamed: set[str] = set()
            if woke:
                time.sleep(DEBOUNCE)  # let the burst of 2–3 events per save arrive
                only, renamed = self.watcher.take()
            if time.monotonic() >= next_full:
                only = None  # the periodic sweep looks at everything: events are only hints
                next_full = time.monotonic() + interval
            elif not woke:
                only = set()  # woken only to recompute the score
            if only != set() and self._sweep(only, renamed):
                last_new, checkpointed = time.monotonic(), False
            if self.tailer.unsettled:  # files still being written: look again once they may have settled
                next_full = min(next_full, time.monotonic() + self.settings.settle_seconds)
            report_due = self.report_stale and time.monotonic() >= self.report_written + REPORT_EVERY
            if report_due or (self.score_due is not None and time.monotonic() >= self.score_due):
                self.refresh_score()
            if not checkpointed and time.monotonic() - last_new > CHECKPOINT_IDLE:
                self.app.store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                checkpointed = True
                self._retain()

    def _retain(self) -> None:
        """Purge the events of years no longer kept in detail (once a day at most: when idle)."""
        from .app import today
        from .retention import purge, purged_before

        day = today()
        if self.retained_on == day:
            return
        purged = purge(self.app.store, day, self.settings.keep_years)
        self.app.ingestor.purged_before = purged_before(self.app.store)
        self.retained_on = day
        if purged:
            self.log.info("events_purged", events=purged, kept_from=str(self.app.ingestor.purged_before))

    def _sweep(self, only: set[str] | None, renamed: set[str]) -> int:
        results = self.tailer.sweep(only, renamed)
        new = sum(r.new for r in results)
        if new:
            # Leading edge: the first new events after a quiet spell are scored at once (the user
            # sees them within the sweep's latency); a steady stream is rescored every SCORE_EVERY
            # seconds, or less often when scoring is slow (a big store), so that it stays cheap.
            self.score_due = self.score_due or max(time.monotonic(), self.score_written + self.score_gap)
            self.log.info("ingested", files=len(results), new=new, quarantined=sum(r.quarantined for r in results))
        return new

    def refresh_score(self, *, final: bool = False) -> dict[str, Any]:
        """Recompute the current year's score, write score.json (and the HTML report, at most
        once a minute while events keep coming: it draws every chart), tell the plugins."""
        self.score_due = None
        started = time.monotonic()
        year = self.app.default_year()
        score = self.app.score(year, self.app.as_of_for(year)).as_json()
        self.score_written = time.monotonic()
        self.score_gap = max(SCORE_EVERY, (self.score_written - started) / SCORE_SHARE)
        score["computed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            # ASCII like `score --json`: a Windows program reading it as ANSI still gets the labels right
            write_atomically(self.app.home / SCORE_FILE, dumps_json(score))
            if final or time.monotonic() - self.report_written >= REPORT_EVERY:
                from .htmlreport import REPORT_FILE, write_report

                write_report(self.app, self.app.home / REPORT_FILE, year, self.app.as_of_for(year))
                self.report_written, self.report_stale = time.monotonic(), False
            else:
                self.report_stale = True
        except OSError as exc:  # Windows: another program holds the file open; next time then
            self.log.warning("score_files_not_written", error=exc.strerror or str(exc))
            self.report_written, self.report_stale = time.monotonic(), True
        for error in self.app.plugins.call_score_changed(score):
            self.log.warning("score_hook_failed", error=error)
        self.log.info("score_updated", year=year, practitioners=len(score["practitioners"]))
        return score
