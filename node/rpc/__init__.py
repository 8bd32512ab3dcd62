"""JSON-RPC 2.0 over HTTP and WebSocket: transport, parameter decoding, geth-shaped results."""
