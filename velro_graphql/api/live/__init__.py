"""Live updates over WebSocket: each distinct subscription is read and rendered once per change,
and every subscriber that shares it gets the same bytes."""
