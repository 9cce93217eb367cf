"""Reports: set-based figures over subscribers, services and the books, as JSON or CSV."""
