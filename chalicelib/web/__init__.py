"""HTTP plumbing: route declaration with permission needs, the request context (``context.Ctx``),
responses, errors, fallbacks."""
