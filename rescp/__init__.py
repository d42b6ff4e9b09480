"""rescp: a resilience control plane.

Circuit breakers, rate limits and error tracking, shared by every caller through one gRPC service.
"""

__version__ = "0.1.0"
