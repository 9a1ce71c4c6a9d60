"""Webhooks (spec: Webhooks): a package's release notifications to a user-given URL."""
