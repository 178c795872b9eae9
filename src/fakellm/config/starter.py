"""The commented starter config written by `fakellm init` and served when there is no file."""

from __future__ import annotations

from importlib.resources import files

from .schema import Config, parse_config

STARTER_NAME = "built-in starter config"


def starter_text() -> str:
    return files(__package__).joinpath("starter.yaml").read_text(encoding="utf-8")


def starter_config() -> Config:
    return parse_config(starter_text(), STARTER_NAME)
