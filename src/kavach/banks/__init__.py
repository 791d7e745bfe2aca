"""Hash lists (banks): models, service functions and list formats."""
