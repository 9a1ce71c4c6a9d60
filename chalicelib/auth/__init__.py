"""Authentication (who is calling) and the central permission policy (what they may do)."""
