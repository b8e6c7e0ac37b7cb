"""The older import path of :class:`saoma.bootstrap.Platform`; new code imports bootstrap."""

from __future__ import annotations

from saoma.bootstrap import Platform, build

__all__ = ["Platform", "build"]
