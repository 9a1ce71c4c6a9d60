"""Accounts: users, organisations, memberships, followers, API keys."""
