"""Package links: a package of one repository shown and downloadable through another."""
