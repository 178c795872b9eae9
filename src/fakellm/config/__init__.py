"""The config: its schema (typed, validated), loading YAML with positions, lint, the starter config."""

from .schema import Config, ConfigError, Problem, config_from_data, load_config, parse_config

__all__ = ["Config", "ConfigError", "Problem", "config_from_data", "load_config", "parse_config"]
