"""Reference structures of the built-in systems and small shipped data sets."""
