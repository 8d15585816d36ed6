"""What a run writes: the results Dataset built from the catalogue, tables, study notes,
figures, and the files themselves, written atomically and replaced together."""
