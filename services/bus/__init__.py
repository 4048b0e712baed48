"""The bus process: the XSUB/XPUB forwarder of ``bus.forwarder``, with its own heartbeat."""
