"""The /me pages' texts, one TOML file per language (en.toml, sw.toml, …)."""
