"""Teams of organisations and users, and their permissions on repositories."""
