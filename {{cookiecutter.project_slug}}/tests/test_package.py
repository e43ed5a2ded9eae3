"""The package is a regular one whose `__version__` is the version it is installed as."""

from __future__ import annotations

from importlib.metadata import version

import {{ cookiecutter.package_name }}

DISTRIBUTION = {{ cookiecutter.project_slug | literal }}


def test_version_is_the_installed_distributions() -> None:
    assert {{ cookiecutter.package_name }}.__version__ == version(DISTRIBUTION)


def test_package_is_regular_not_a_namespace() -> None:
    assert {{ cookiecutter.package_name }}.__file__ is not None
