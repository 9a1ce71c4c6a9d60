"""Package and version attributes: storage, typed index and attribute search."""
