"""Systems: the built-in antiperovskites, reading and checking structure files, relaxation."""
