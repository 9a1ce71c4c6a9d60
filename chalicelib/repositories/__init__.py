"""Repositories: create, read, update, delete, search."""
