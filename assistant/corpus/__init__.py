"""The corpus pipeline: the sources manifest, fetch/verify, and one parser per source kind."""
