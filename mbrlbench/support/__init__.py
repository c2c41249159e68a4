"""Support every floor uses and none owns: files from elsewhere read as data (``safe_yaml``, ``safe_torch``),
outputs written whole or not at all (``outputs``), plugins imported by path (``plugins``), the plain console."""
