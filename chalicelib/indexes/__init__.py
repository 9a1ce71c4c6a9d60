"""Repository metadata indexes (Debian, RPM, and whatever format registers a calculator): calculated
in a queued function after publish and delete, debounced, switched atomically, served under /dl."""
