"""Hypothesis profiles of the property tests.

- ``quick`` (the default, inside ``make test``): a few minutes in all on two cores.
- ``long`` (``make test-long``, i.e. ``HYPOTHESIS_PROFILE=long``): thousands of histories.
- ``mutation``: ``quick`` without shrinking (``tests/property/mutations.py``).

Only registered here, not loaded: the other test folders keep their own settings. The
machines in this folder read the profile named by ``HYPOTHESIS_PROFILE``
(see :func:`tests.property.machine.profile_settings`).
"""

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "print_blob": True,
}

settings.register_profile("quick", max_examples=150, stateful_step_count=40, **_COMMON)
settings.register_profile("long", max_examples=2_000, stateful_step_count=60, **_COMMON)
# The quick profile without shrinking, for tests/property/mutations.py: the same histories,
# and the first failure is reported as found (shrinking a long history can take many minutes).
settings.register_profile(
    "mutation",
    parent=settings.get_profile("quick"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
