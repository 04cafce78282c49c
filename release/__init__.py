"""The hub's release service: snapshots, identities, access rules, audit log, and its clients."""
