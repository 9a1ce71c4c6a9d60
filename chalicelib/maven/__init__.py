"""Maven repositories: maven-metadata.xml and its checksums (an index calculator), Maven Central sync."""
