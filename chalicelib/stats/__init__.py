"""Download statistics and usage: download events (recorded by a queued subscriber of ``Downloaded``),
their aggregates (a scheduled rollup), storage usage (subscribers of file events) and the reports."""
