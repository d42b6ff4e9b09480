"""Shared test settings: Hypothesis runs without deadlines (CI machines are shared and noisy)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("default")
