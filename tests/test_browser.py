"""The demo page in a real browser: visitors chat in a room, the ticker ticks, both recover from a restart.

Drives Debian's chromium (/usr/bin/chromium) through Playwright; Playwright's own browser
download is not used. Skips when either is missing, unless REALTIME_REQUIRE_BROWSER=1. Two
servers share Redis (TEST_REDIS_URL, under a PUBSUB_PREFIX of the test's own); without Redis the
test skips, unless REALTIME_REQUIRE_REDIS=1. Screenshots go to test-output/ at the repository root.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
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
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOM = "lobby"


def required(variable: str, reason: str) -> None:
    """Skip for `reason`, or fail when the environment variable says the test is mandatory."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason}, and {variable}=1")
    pytest.skip(reason)


def require_browser() -> None:
    missing = []
    if sync_playwright is None:
        missing.append("the playwright package")
    if not CHROMIUM.is_file():
        missing.append(str(CHROMIUM))
    if missing:
        required("REALTIME_REQUIRE_BROWSER", f"no {' and no '.join(missing)}")


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
        self.env = env
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


def redis(project: Path, env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `script` with the baked project's redis client, connected as `r`."""
    python = str(project / ".venv" / "bin" / "python")
    code = f"import redis, sys; r = redis.Redis.from_url(sys.argv[1]); {script}"
    return subprocess.run(
        [python, "-c", code, REDIS_URL, *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def servers(bake: Bake, make_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two servers of one baked project, sharing Redis under a prefix of this test's own."""
    require_browser()
    project = bake()
    run(["make", "install"], cwd=project, env=make_env)
    if redis(project, make_env, "r.ping()").returncode != 0:
        required("REALTIME_REQUIRE_REDIS", f"no Redis at {REDIS_URL}")
    prefix = f"test-browser-{uuid.uuid4().hex[:8]}:"
    env = {**make_env, "PUBSUB_URL": REDIS_URL, "PUBSUB_PREFIX": prefix}
    pair = Server(project, tmp_path / "one.log", env), Server(project, tmp_path / "two.log", env)
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()
            print(f"server output:\n{server.output()}")  # shown when the test fails
        redis(project, make_env, "[r.delete(key) for key in r.scan_iter(sys.argv[2] + '*')]", prefix)


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


def in_room(page: Page, name: str, timeout: int = WAIT_MS) -> None:
    expect(page.locator("#room-state")).to_have_attribute("data-state", "connected", timeout=timeout)
    expect(page.locator("#room-me")).to_have_text(name)
    expect(page.locator("#room-name")).to_have_text(ROOM)


def sees_online(page: Page, *names: str, timeout: int = WAIT_MS) -> None:
    expect(page.locator("#room-online li")).to_have_text(sorted(names), timeout=timeout)


def say(page: Page, text: str) -> None:
    page.locator("#say-input").fill(text)
    page.locator("#say-send").click()


def sees(page: Page, who: str, text: str, timeout: int = WAIT_MS) -> None:
    """`text` from `who` is in the log, once ("you" for the page's own)."""
    message = page.locator("#room-log .msg:not(.notice)").filter(has_text=text)
    expect(message).to_have_count(1, timeout=timeout)
    expect(message).to_have_class(re.compile(r"\bown\b" if who == "you" else r"\bother\b"))
    expect(message.locator(".who")).to_have_text(re.compile(rf"^{re.escape(who)} "))
    expect(message.locator(".text")).to_have_text(text)


def texts(page: Page) -> list[str]:
    return page.locator("#room-log .msg:not(.notice) .text").all_inner_texts()


def tick_count(page: Page) -> int:
    text = page.locator("#tick-count").inner_text()
    return int(text) if text.isdigit() else 0


def ticks_past(page: Page, count: int, timeout: int = WAIT_MS) -> None:
    page.wait_for_function(
        "n => Number(document.getElementById('tick-count').textContent) > n", arg=count, timeout=timeout
    )


def test_visitors_chat_in_a_room_and_recover_what_was_said_during_a_restart(
    servers: tuple[Server, Server], browser: Browser
) -> None:
    one, two = servers
    errors: list[str] = []
    # The desktop comes in through a link that names the room and the visitor; the phone is asked.
    desktop = open_page(browser, "desktop", f"{one.url}?room={ROOM}&name=Ann", errors)
    in_room(desktop, "Ann")
    phone = open_page(browser, "phone", one.url, errors)
    expect(phone.locator("#join-form")).to_be_visible()
    OUTPUT.mkdir(exist_ok=True)
    phone.screenshot(path=OUTPUT / "demo-phone-join.png", full_page=True)
    phone.locator("#join-name").fill("Bob")
    phone.locator("#join-room").fill(ROOM)
    phone.locator("#join-enter").click()
    in_room(phone, "Bob")
    # The address now invites into the room, not as Bob.
    assert phone.url == f"{one.url}?room={ROOM}"
    for page in (desktop, phone):
        sees_online(page, "Ann", "Bob")
    expect(desktop.locator("#room-log .notice", has_text="Bob joined")).to_have_count(1)

    say(desktop, "Hello from the desktop")
    sees(phone, "Ann", "Hello from the desktop")
    sees(desktop, "you", "Hello from the desktop")
    say(phone, "Hi from the phone")
    sees(desktop, "Bob", "Hi from the phone")
    sees(phone, "you", "Hi from the phone")

    # User text is text: markup in a message is shown, not run.
    markup = '<img src="x" onerror="window.injected = true">'
    say(phone, markup)
    sees(desktop, "Bob", markup)
    assert desktop.evaluate("window.injected") is None
    assert desktop.locator("#room-log img").count() == 0
    said = ["Hello from the desktop", "Hi from the phone", markup]

    # A reload comes straight back into the room and shows what was said, once each.
    phone.reload()
    in_room(phone, "Bob")
    expect(phone.locator("#room-log .msg:not(.notice)")).to_have_count(3)
    assert texts(phone) == said
    sees_online(phone, "Ann", "Bob")

    # Someone on the other server is in the room too, and talks while the first one restarts.
    visitor = open_page(browser, "desktop", f"{two.url}?room={ROOM}&name=Cyd", errors)
    in_room(visitor, "Cyd")
    assert texts(visitor) == said
    for page in (desktop, phone, visitor):
        sees_online(page, "Ann", "Bob", "Cyd")

    for page in (desktop, phone):
        expect(page.locator("#ticker-state")).to_have_attribute("data-state", "connected")
        ticks_past(page, tick_count(page))

    # Restart the first server on the same port: both pages notice, then recover on their own.
    # The desktop's EventSource reconnects by itself, sending Last-Event-ID. The phone's meets
    # a proxy that answers 502 meanwhile, which makes an EventSource give up: the page then
    # opens a new one, passing the last id in the query.
    phone.route(SSE_URL, lambda route: route.fulfill(status=502, body="Bad Gateway"))
    one.stop()
    before = {page: tick_count(page) for page in (desktop, phone)}
    for page in (desktop, phone):
        expect(page.locator("#room-state")).not_to_have_attribute("data-state", "connected")
        expect(page.locator("#ticker-state")).not_to_have_attribute("data-state", "connected")
        expect(page.locator("#room-log .notice", has_text="Disconnected (1001")).to_have_count(1)
    expect(phone.locator("#ticker-state")).to_have_text(re.compile(r"^reconnecting in \d+s$"))
    sees_online(visitor, "Cyd")
    during = ["Said during the restart", "And a second thing"]
    for text in during:
        say(visitor, text)
        sees(visitor, "you", text)
    one.start()
    phone.unroute(SSE_URL)

    for page in (desktop, phone):
        in_room(page, "Ann" if page is desktop else "Bob", timeout=RECOVER_MS)
        for text in during:
            sees(page, "Cyd", text)
        # What was said before is there once: the reconnect asked only for what came after it.
        assert texts(page) == said + during
        sees_online(page, "Ann", "Bob", "Cyd")
        expect(page.locator("#ticker-state")).to_have_attribute("data-state", "connected", timeout=RECOVER_MS)
        # The stream resumes after the last id it saw instead of starting again at 1.
        expect(page.locator("#tick-note")).to_have_text(re.compile(r"^Resumed at \d+"), timeout=RECOVER_MS)
        first = int(page.locator("#tick-note").get_attribute("data-first") or 0)
        assert first > before[page] > 1
        ticks_past(page, first)

    say(phone, "Back after the restart")
    for page in (desktop, visitor):
        sees(page, "Bob", "Back after the restart")
    say(desktop, "Welcome back")
    for page in (phone, visitor):
        sees(page, "Ann", "Welcome back")

    for viewport, page in (("desktop", desktop), ("phone", phone)):
        page.screenshot(path=OUTPUT / f"demo-{viewport}.png", full_page=True)
    visitor.context.close()
    expect(desktop.locator("#room-log .notice", has_text="Cyd left")).to_have_count(1)
    sees_online(desktop, "Ann", "Bob")
    assert errors == []
