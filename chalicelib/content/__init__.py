"""Content: files of versions — upload, publish, download, delete, listings, search."""
