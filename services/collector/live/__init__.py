"""Live limits: asking each provider's own endpoint, politely, and saying plainly what failed."""
