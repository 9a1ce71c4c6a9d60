"""Readmes and release notes of packages and versions."""
