"""The conversation texts, one TOML file per language (en.toml, sw.toml, …)."""
