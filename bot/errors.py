"""The error tree. Each error carries the text a person sees; surfaces show it ephemerally."""

from __future__ import annotations

from collections.abc import Iterable


class SwitchboardError(Exception):
    """Base of every error the product explains to a user."""

    def user_text(self) -> str:
        return str(self)


class ConfigError(SwitchboardError):
    """The configuration is invalid; the message names the key, the value and the fix."""


class StoreError(SwitchboardError):
    """The store could not be reached or answered unexpectedly."""


class SourceError(SwitchboardError):
    """A source adapter failed talking to its network (wrapped at the edge)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThreadNotFound(SwitchboardError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No thread {ref}.")
        self.ref = ref


class ThreadArchived(ThreadNotFound):
    """The thread was closed longer ago than the retention period and archived; only its
    audit events are left."""

    def __init__(self, thread: str, closed_on: str, days: int, *, spam: bool = False) -> None:
        closed = "marked as spam" if spam else "resolved"
        unit = "day" if days == 1 else "days"
        SwitchboardError.__init__(
            self,
            f"{thread} was {closed} on {closed_on} and archived after {days} {unit}; "
            "its history is in the audit log.",
        )
        self.ref = thread
        self.closed_on = closed_on
        self.days = days


class NoActiveThread(SwitchboardError):
    def __init__(self) -> None:
        super().__init__("You have no active thread. Name one (e.g. T-1042) or claim one first.")


class AlreadyClaimed(SwitchboardError):
    def __init__(self, owner: str, thread: str = "") -> None:
        where = f"{thread} is" if thread else "This thread is"
        super().__init__(f"{where} already claimed by {owner}.")
        self.owner = owner


class NotOwner(SwitchboardError):
    def __init__(self, owner: str) -> None:
        super().__init__(f"Only the owner ({owner}) can do that; use take over first.")
        self.owner = owner


class InvalidTransition(SwitchboardError):
    def __init__(self, thread: str, state: str, action: str) -> None:
        super().__init__(f"{thread} is {state}; you cannot {action} it.")


class UnknownDepartment(SwitchboardError):
    def __init__(self, name: str, known: Iterable[str], suggestion: str | None = None) -> None:
        names = ", ".join(sorted(known))
        hint = f" Did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"Unknown department '{name}'.{hint} Departments: {names}.")
        self.name = name
        self.suggestion = suggestion


class NotAllowed(SwitchboardError):
    """The actor may not do this (guest, reply policy, ...)."""


class ReplyTooLong(SwitchboardError):
    def __init__(self, length: int, limit: int, network: str) -> None:
        super().__init__(
            f"That reply is {length} characters; {network} allows {limit}. Shorten it by "
            f"{length - limit}."
        )
        self.length = length
        self.limit = limit


class ReplyInProgress(SwitchboardError):
    def __init__(self) -> None:
        super().__init__("That reply is already being sent; it will not be posted twice.")


class ReadOnlySource(SwitchboardError):
    def __init__(self, source: str, url: str) -> None:
        super().__init__(f"{source} is read-only: reply on the original site: {url}")


class NothingToSendBack(SwitchboardError):
    def __init__(self, thread: str) -> None:
        super().__init__(f"{thread} has not been transferred, so there is nowhere to send it back.")


class AlreadySent(SwitchboardError):
    """The same text was already sent (or is being sent) on this thread in the last minutes;
    the person may send it again explicitly."""

    def __init__(self, by: str, when: str, url: str = "", *, sending: bool = False) -> None:
        if sending:
            text = f"That reply is already being sent by {by}; it will not be posted twice."
        else:
            where = f" — {url}" if url else ""
            text = f"That reply was already sent by {by} {when}{where}."
        super().__init__(text)
        self.by = by
        self.url = url
        self.sending = sending

    @staticmethod
    def said_in(text: str) -> bool:
        """Whether ``text`` (a refusal shown to a person) is this error's."""
        return text.startswith(("That reply was already sent by", "That reply is already being"))
