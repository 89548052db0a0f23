"""Everything that writes: repair plans and their application, atomic file output."""
