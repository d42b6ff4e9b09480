"""Generated from protos/rescp/v1 by scripts/gen_proto.py; do not edit."""
