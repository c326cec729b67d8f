"""Shared test helpers. The service package lives under service/ (installed editable by make)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

SAMPLES = Path(__file__).parent / "samples" / "webhooks"

# Property tests judge outcomes, not speed: a loaded 2-core CI machine must not turn a slow
# example into a failure. Speed belongs to bench/.
settings.register_profile("streamhook", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("streamhook")


def sample(relative: str) -> Any:
    return json.loads((SAMPLES / relative).read_text())
