"""The one exception type the pages catch and show.

Everything a user can get wrong (empty text, text too long, a file that is not an image, a Hub
model while offline) raises a subclass of `DashboardError` whose message says what to do about
it. Anything else escaping the backend is a bug, and pages show it as such (without a traceback).
"""

from __future__ import annotations

from backend.shared.language import t


class DashboardError(ValueError):
    """An error with a message meant for the person using the dashboard: an English sentence with
    named `{placeholders}` and their values, translated when shown (`str(error)`), in the language
    of whoever reads it, not of the thread that raised it."""

    def __init__(self, message: str = "", /, **params: object) -> None:
        super().__init__(message)
        self.message, self.params = message, params

    def __str__(self) -> str:
        return t(self.message, **self.params)


class InputError(DashboardError):
    """The input cannot be used as given; the message says how to fix it."""


class ModelUnavailableError(DashboardError):
    """The chosen model cannot be loaded here (not installed, or a Hub model while offline)."""


class EngineError(DashboardError):
    """A generation server could not be reached, or did not answer as the API says it should."""


class BusyError(DashboardError):
    """Too much is waiting already (on this model, or from this address): try again shortly."""


class JobStopped(DashboardError):
    """A running request was ended: its time limit passed, or nobody is waiting for it anymore."""
