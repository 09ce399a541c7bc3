"""Built-in plugins: core's own features go through the same hooks as outside plugins."""
