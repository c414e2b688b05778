"""Live updates: events, the channel layer wrapper and (later) the websocket endpoint."""
