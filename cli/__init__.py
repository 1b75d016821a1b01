"""zoo command line."""
