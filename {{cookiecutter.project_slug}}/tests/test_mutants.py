"""The mistakes of tests/mutants.py each fail a test (`make mutants`), and docs/testing.md lists them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from .mutants import MUTANTS, PROJECT, Mutant, check


@pytest.mark.timeout(600)
def test_every_known_mistake_fails_a_test() -> None:
    assert check(baseline=False) == []


def test_a_mistake_no_test_catches_and_a_stale_one_are_reported() -> None:
    unnoticed = Mutant(
        "a docstring reworded",
        "realtime/limits.py",
        '"""The limits a public',
        '"""Limits a public',
        "test_origin_allowed.py",
    )
    stale = replace(unnoticed, mistake="a stale mutant", original="text found nowhere")
    assert check([unnoticed, stale], baseline=False) == [
        "a docstring reworded: SURVIVED",
        "a stale mutant: stale: realtime/limits.py does not hold 'text found nowhere' exactly once",
    ]


def test_docs_testing_lists_every_known_mistake() -> None:
    listed = (PROJECT / "docs" / "testing.md").read_text()
    assert [mutant.mistake for mutant in MUTANTS if mutant.mistake not in listed] == []
