"""Framework integrations: :mod:`upwatch.contrib.django` and :mod:`upwatch.contrib.flask`.

Both serve the same endpoints (see :mod:`upwatch.contrib.endpoints`)."""
