"""Shelf: a serverless package-hosting backend speaking the Bintray REST API."""
