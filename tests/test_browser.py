"""The demo page in a real browser: two pages chat, the ticker ticks, both recover from a restart.

Drives Debian's chromium (/usr/bin/chromium) through Playwright; Playwright's own browser
download is not used. Skips when either is missing, unless REALTIME_REQUIRE_BROWSER=1.
Screenshots of each viewport go to test-output/ at the repository root.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TEMPLATE, Bake, run

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = TEMPLATE / "test-output"
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
PACKAGE = "realtime_app"  # the default answers
WAIT_MS = 15_000
# Reconnecting waits out the page's backoff (at most 10 s between attempts) and a server start.
RECOVER_MS = 45_000
START_TIMEOUT = 30.0
SSE_URL = re.compile(r"/api/sse(\?|$)")


def require_browser() -> None:
    missing = []
    if sync_playwright is None:
        missing.append("the playwright package")
    if not CHROMIUM.is_file():
        missing.append(str(CHROMIUM))
    if missing:
        reason = f"no {' and no '.join(missing)}"
        if os.environ.get("REALTIME_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REALTIME_REQUIRE_BROWSER=1")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """The baked project's `python -m <package> serve`, restartable on the same port."""

    def __init__(self, project: Path, log: Path, env: dict[str, str]) -> None:
        self.project = project
        self.port = free_port()
        self.log = log
        self.env = {**env, "PUBSUB_URL": "memory://"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        python = self.project / ".venv" / "bin" / "python"
        command = [str(python), "-m", PACKAGE, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=self.project, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)  # a port that is not open yet gives no event to wait on
        pytest.fail(f"the server did not listen on {self.port} in {START_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def server(bake: Bake, make_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    require_browser()
    project = bake()
    run(["make", "install"], cwd=project, env=make_env)
    server = Server(project, tmp_path / "server.log", make_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        print(f"server output:\n{server.output()}")  # shown when the test fails


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_browser()
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, viewport: str, url: str, errors: list[str]) -> Page:
    page = browser.new_context(**VIEWPORTS[viewport]).new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: errors.append(f"{viewport}: {error}"))
    page.goto(url)
    return page


def chat_name(page: Page, previous: str = "…") -> str:
    """Wait for the welcome, then return the name the server gave this page."""
    expect(page.locator("#chat-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(page.locator("#chat-me")).not_to_have_text(previous, timeout=WAIT_MS)
    name = page.locator("#chat-me").inner_text()
    expect(page.locator("#chat-log .notice", has_text=f"Welcome {name}!")).to_have_count(1, timeout=WAIT_MS)
    return name


def say(page: Page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-send").click()


def sees(page: Page, kind: str, who: str, text: str, timeout: int = WAIT_MS) -> None:
    message = page.locator(f"#chat-log .msg.{kind}").filter(has_text=text)
    expect(message).to_have_count(1, timeout=timeout)
    expect(message.locator(".who")).to_have_text(who)
    expect(message.locator(".text")).to_have_text(text)


def tick_count(page: Page) -> int:
    text = page.locator("#tick-count").inner_text()
    return int(text) if text.isdigit() else 0


def ticks_past(page: Page, count: int, timeout: int = WAIT_MS) -> None:
    page.wait_for_function(
        "n => Number(document.getElementById('tick-count').textContent) > n", arg=count, timeout=timeout
    )


def test_chat_and_ticker_recover_from_a_server_restart(server: Server, browser: Browser) -> None:
    errors: list[str] = []
    desktop = open_page(browser, "desktop", server.url, errors)
    phone = open_page(browser, "phone", server.url, errors)
    me, other = chat_name(desktop), chat_name(phone)
    assert me != other
    expect(desktop.locator("#chat-log .notice", has_text=f"{other} joined!")).to_have_count(1, timeout=WAIT_MS)

    # Chat both ways: each page sees its own message as "you" and the other's under its name.
    say(desktop, "Hello from the desktop")
    sees(phone, "other", me, "Hello from the desktop")
    sees(desktop, "own", "you", "Hello from the desktop")
    say(phone, "Hi from the phone")
    sees(desktop, "other", other, "Hi from the phone")
    sees(phone, "own", "you", "Hi from the phone")

    # User text is text: markup in a message is shown, not run.
    markup = '<img src="x" onerror="window.injected = true">'
    say(phone, markup)
    sees(desktop, "other", other, markup)
    assert desktop.evaluate("window.injected") is None
    assert desktop.locator("#chat-log img").count() == 0

    # A third page comes and goes: the others are told.
    visitor = open_page(browser, "desktop", server.url, errors)
    name = chat_name(visitor)
    expect(phone.locator("#chat-log .notice", has_text=f"{name} joined!")).to_have_count(1, timeout=WAIT_MS)
    visitor.context.close()
    expect(phone.locator("#chat-log .notice", has_text=f"{name} left!")).to_have_count(1, timeout=WAIT_MS)

    # The ticker counts.
    for page in (desktop, phone):
        expect(page.locator("#ticker-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
        ticks_past(page, tick_count(page))

    # Restart the server on the same port: both panels notice, then recover on their own.
    # The desktop's EventSource reconnects by itself, sending Last-Event-ID. The phone's meets
    # a proxy that answers 502 meanwhile, which makes an EventSource give up: the page then
    # opens a new one, passing the last id in the query.
    phone.route(SSE_URL, lambda route: route.fulfill(status=502, body="Bad Gateway"))
    server.stop()
    before = {page: tick_count(page) for page in (desktop, phone)}
    for page in (desktop, phone):
        expect(page.locator("#chat-state")).not_to_have_attribute("data-state", "connected", timeout=WAIT_MS)
        expect(page.locator("#ticker-state")).not_to_have_attribute("data-state", "connected", timeout=WAIT_MS)
        expect(page.locator("#chat-log .notice", has_text="Disconnected (1001")).to_have_count(1, timeout=WAIT_MS)
    expect(phone.locator("#ticker-state")).to_have_text(re.compile(r"^reconnecting in \d+s$"), timeout=WAIT_MS)
    server.start()
    phone.unroute(SSE_URL)

    for page in (desktop, phone):
        expect(page.locator("#chat-state")).to_have_attribute("data-state", "connected", timeout=RECOVER_MS)
        expect(page.locator("#ticker-state")).to_have_attribute("data-state", "connected", timeout=RECOVER_MS)
        # The stream resumes after the last id it saw instead of starting again at 1.
        expect(page.locator("#tick-note")).to_have_text(re.compile(r"^Resumed at \d+"), timeout=RECOVER_MS)
        first = int(page.locator("#tick-note").get_attribute("data-first") or 0)
        assert first > before[page] > 1
        ticks_past(page, first)

    # A new connection is a new peer with a new name.
    me, other = chat_name(desktop, previous=me), chat_name(phone, previous=other)
    say(phone, "Back after the restart")
    sees(desktop, "other", other, "Back after the restart")
    say(desktop, "Welcome back")
    sees(phone, "other", me, "Welcome back")

    OUTPUT.mkdir(exist_ok=True)
    for viewport, page in (("desktop", desktop), ("phone", phone)):
        page.screenshot(path=OUTPUT / f"demo-{viewport}.png", full_page=True)
    assert errors == []
