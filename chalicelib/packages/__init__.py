"""Packages and their versions."""
