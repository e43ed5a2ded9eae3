"""Mistakes the suite is known to catch: each is made in a copy of the project and must fail a test.

`make mutants` (`python -m tests.mutants`) copies the project, runs the tests
named below on the copy as it is (they must pass), then makes each mistake in
turn and runs only its tests: at least one must fail. A mistake that no test
catches, or one whose text is no longer in its file, fails the run.

Add a mistake as one line of MUTANTS: what goes wrong, the file (under
src/<package>/), its text (found exactly once), the mistaken text, and the tests
(under tests/) that must catch it. docs/testing.md lists them and says why a
table rather than mutmut or cosmic-ray.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = Path("src", "{{ cookiecutter.package_name }}")


@dataclass(frozen=True)
class Mutant:
    mistake: str
    file: str
    original: str
    mutated: str
    tests: str  # space-separated test ids, under tests/


# fmt: off
MUTANTS = [
    Mutant("a silent Redis link is logged but kept", "realtime/backends/redis.py", 'raise RedisConnectionError(f"no answer to PING in {PING_SECONDS}s")', 'logger.warning("no answer to PING in %ss", PING_SECONDS)', "test_redis.py::test_a_silent_redis_is_detected_and_left"),
    Mutant("uvicorn's 1012 overtakes the hub's 1001 at shutdown", "realtime/_shutdown.py", "await asyncio.sleep(CLOSE_GRACE)", "pass", "test_shutdown.py::test_uvicorn_shuts_down_after_the_hubs_closes_went_out"),
    Mutant("a WebSocket route's 426 shadows an HTTP route on its path", "realtime/routing.py", 'r.kind == "websocket"))', 'r.kind != "websocket"))', "test_routing.py::test_a_catch_all_cannot_shadow_the_426_of_a_websocket_route"),
    Mutant("two route trees of one name share their modules", "realtime/routing.py", 'getattr(module, "__path__", ())] == [directory]:', 'getattr(module, "__path__", ())] or True:', "test_routing.py::test_two_trees_of_one_name_keep_their_own_helpers"),
    Mutant("ALLOWED_ORIGINS compared as plain text (case, default ports)", "realtime/limits.py", "_normal(origin) in {_normal(entry) for entry in allowed}", "origin in allowed", "test_origin_allowed.py"),
    Mutant("a peer past its send buffer is closed with 1000, not 1013", "realtime/peer.py", "self._close_now(TRY_AGAIN_LATER, SEND_BUFFER_FULL)", 'self._close_now(1000, "")', "test_delivery.py::test_a_stalled_peer_is_closed_with_1013_and_dropped_within_the_close_timeout"),
    Mutant("an SSE client that stopped reading is never dropped", "realtime/sse.py", "                self._response.drop()\n", "                pass\n", "test_sse_delivery.py::test_a_slow_sse_client_is_closed_and_its_subscription_freed"),
    Mutant("hooks can be given by position", "realtime/websocket.py", "@dataclass(frozen=True, kw_only=True)\nclass WebSocketHandler:", "@dataclass(frozen=True)\nclass WebSocketHandler:", "test_websocket.py::test_hooks_are_given_by_keyword_only"),
{%- if cookiecutter.include_examples %}
    Mutant("the ticker ignores ?interval= and ticks flat out", "routes/api/sse.py", "await asyncio.sleep(interval)", "await asyncio.sleep(0)", "test_ticker.py::test_ticks_are_the_interval_apart"),
{%- endif %}
]
# fmt: on


def check(mutants: Iterable[Mutant] = MUTANTS, baseline: bool = True) -> list[str]:
    """Make each mistake in a copy of the project; return the problems (none: all caught).

    `baseline` first runs the mutants' tests on the unchanged copy; the suite's own
    test skips that, since the suite runs those tests anyway.
    """
    mutants = list(mutants)
    with tempfile.TemporaryDirectory(prefix="mutants-") as folder:
        copy = Path(folder, "project")
        skip = shutil.ignore_patterns("__pycache__")
        for part in ("src", "tests", "docs"):
            shutil.copytree(PROJECT / part, copy / part, ignore=skip)
        for file in ("pyproject.toml", "README.md"):
            shutil.copy(PROJECT / file, copy / file)
        every_test = sorted({test for mutant in mutants for test in mutant.tests.split()})
        if baseline and run_tests(copy, every_test)[0]:
            return [f"the unchanged project fails some of {every_test}: fix that first"]
        problems = []
        for mutant in mutants:
            outcome = run_mutant(copy, mutant)
            print(f"{outcome:>9}: {mutant.mistake}", flush=True)
            if outcome not in ("caught", "skipped"):
                problems.append(f"{mutant.mistake}: {outcome}")
        return problems


def run_mutant(copy: Path, mutant: Mutant) -> str:
    path = copy / PACKAGE / mutant.file
    source = path.read_text()
    if source.count(mutant.original) != 1:
        return f"stale: {mutant.file} does not hold {mutant.original!r} exactly once"
    path.write_text(source.replace(mutant.original, mutant.mutated))
    try:
        failed, passed = run_tests(copy, mutant.tests.split())
    finally:
        path.write_text(source)
    return "caught" if failed else "SURVIVED" if passed else "skipped"


def run_tests(copy: Path, tests: list[str]) -> tuple[int, int]:
    """Run `tests` in the copy; return how many failed (or erred) and how many passed."""
    report = copy / "report.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(copy / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",  # a mutated file may keep its size and mtime
    }
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    command += ["--junitxml", str(report), *(f"tests/{test}" for test in tests)]
    subprocess.run(command, cwd=copy, env=env, capture_output=True, timeout=600, check=False)
    if not report.exists():
        return 1, 0  # pytest could not even start
    suites = list(ElementTree.parse(report).getroot().iter("testsuite"))
    report.unlink()
    total, failures, errors, skipped = (
        sum(int(suite.get(key, 0)) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    )
    return failures + errors, total - failures - errors - skipped


def main() -> int:
    problems = check()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
