"""The wire: message types, topics, framing, socket endpoints, the forwarder and a small client.

A custom tool needs only this package: ``bus.client.Subscriber`` plus the Structs in
``bus.messages``.
"""
