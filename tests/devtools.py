"""Headless Chromium driven over its DevTools pipe (no network port): a real phone-width viewport
(the command line cannot go below 500 px), the page's own measurements, full-page screenshots."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any


class Chromium:
    """One browser; `open(url, width)` gives a tab of that CSS width. Messages are JSON + NUL."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:
            """The browser reads commands on fd 3 and answers on fd 4 (via high numbers first, in
            case a pipe end already is 3 or 4)."""
            os.dup2(to_browser_r, 200)
            os.dup2(from_browser_w, 201)
            os.dup2(200, 3)
            os.dup2(201, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=child_fds,  # the test process runs no other thread meanwhile
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.session: str | None = None

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, *, wait_event: str | None = None) -> Any:
        """Send a command to the open tab (or the browser) and return its result; with
        `wait_event`, also wait for that event (e.g. the page's load)."""
        ident = self._send(method, params, self.session)
        result, seen_event = None, wait_event is None
        while result is None or not seen_event:
            message = self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result = message.get("result", {})
            elif message.get("method") == wait_event:
                seen_event = True
        return result

    def open(self, url: str, width: int, height: int) -> None:
        """A fresh tab whose viewport is `width` CSS pixels wide (a phone: mobile layout)."""
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url}, wait_event="Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Run JavaScript from DevTools (the page's own CSP forbids scripts; this is not the page)."""
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The whole page, top to bottom, at the viewport's width."""
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.session = None
            self._send("Browser.close")
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)
