"""The base of every configuration section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A configuration section: frozen, and unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")
