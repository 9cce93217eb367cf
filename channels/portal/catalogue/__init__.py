"""The captive portal's texts, one TOML file per language (en.toml, sw.toml, …)."""
