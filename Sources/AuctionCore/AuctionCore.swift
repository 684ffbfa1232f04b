// The auction rules (SPEC §2-§5): pure Swift, no I/O, time passed in.
