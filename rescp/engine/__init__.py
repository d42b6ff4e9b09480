"""Pure engines: plain Python over plain data, with the time passed in.

No I/O, no asyncio, no gRPC: tests drive them with a ManualClock.
"""
