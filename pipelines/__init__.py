"""Sources, parsers, normalizer, event lake, features and the simulator: everything up to events."""
