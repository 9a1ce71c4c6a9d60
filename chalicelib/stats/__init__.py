"""Download statistics: download events and their daily aggregates (filled by the events consumer)."""
