"""Download logs of packages (the spec's Logs): one gzip file per package and UTC day."""
