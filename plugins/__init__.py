"""zoo's built-in components. Each subpackage is an ordinary zoo plugin, registered through
the ``zoo`` entry-point group exactly as a third-party distribution would be."""
