"""HTTP plumbing: route declaration with permission needs, responses, errors, fallbacks."""
