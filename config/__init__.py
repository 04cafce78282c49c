"""What every part of thbdb reads: the settings (THBDB_* environment) and logging."""
