"""The gRPC edge: servicers that validate and decode, call the control plane, and encode."""
