"""Shared test helpers. The service package lives under service/ (installed editable by make)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples" / "webhooks"


def sample(relative: str) -> Any:
    return json.loads((SAMPLES / relative).read_text())
