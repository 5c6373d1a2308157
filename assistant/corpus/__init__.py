"""The corpus pipeline: the sources manifest, fetch/verify, and one parser per source kind
(release, noc, drugs with pdftext its PDF content-stream reader, asp_drugs, guidance)."""
