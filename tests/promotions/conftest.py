"""The platform fixture and helpers of tests/p2p, shared by the promotions' service tests."""

from __future__ import annotations

from p2p.conftest import platform

__all__ = ["platform"]
