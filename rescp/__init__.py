"""rescp: a resilience control plane — circuit breakers, rate limits and error tracking as one gRPC service."""

__version__ = "0.1.0"
