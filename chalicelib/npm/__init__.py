"""npm registries: one per npm repository, at /npm/:subject/:repo/."""
