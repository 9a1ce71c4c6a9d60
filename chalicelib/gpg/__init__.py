"""GPG keys of subjects and of Shelf itself, and signatures of files and repository metadata."""
