"""The HTTP listener beside gRPC: the seed's REST API, Connect JSON for every unary RPC,
Server-Sent Events, /metrics, /healthz and the dashboard, answered from the same control plane
in the same event loop (see app.py)."""
