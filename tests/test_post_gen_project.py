"""Every combination of options bakes a complete project that owns exactly its options' files."""

from __future__ import annotations

import pytest

from conftest import COMBINATIONS, OWNED, PUBSUB_URLS, REQUIRED, Bake, in_template, leftover_jinja


def test_defaults(bake: Bake, capfd: pytest.CaptureFixture[str]) -> None:
    project = bake()
    assert project.name == "realtime-app"
    assert (project / "src" / "realtime_app").is_dir()
    assert "PUBSUB_URL=memory://" in (project / ".env.example").read_text(encoding="utf-8").splitlines()
    out = capfd.readouterr().out
    assert "cd realtime-app && make dev" in out
    assert "make test" in out


@pytest.mark.parametrize(("backend", "examples", "demo_page"), COMBINATIONS)
def test_combination(bake: Bake, backend: str, examples: bool, demo_page: bool) -> None:
    project = bake(pubsub_backend=backend, include_examples=examples, include_demo_page=demo_page)
    package = "realtime_app"

    assert leftover_jinja(project) == []
    env_example = (project / ".env.example").read_text(encoding="utf-8").splitlines()
    assert f"PUBSUB_URL={PUBSUB_URLS[backend]}" in env_example

    for option, enabled in (("include_examples", examples), ("include_demo_page", demo_page)):
        for owned in OWNED[option]:
            path = project / owned.format(package=package)
            if not enabled:
                assert not path.exists(), f"{option}=false left {owned}"
            elif owned in REQUIRED or in_template(owned):
                assert path.exists(), f"{option}=true lost {owned}"

    routes = project / "src" / package / "routes"
    empty = [str(p.relative_to(project)) for p in routes.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert empty == []
