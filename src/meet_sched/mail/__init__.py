"""Email messages rendered from meetings (never sent here: :mod:`meet_sched.delivery` sends)."""

from .render import MailError, MailRenderer, Outgoing, Recipient, checked_address, one_line

__all__ = ["MailError", "MailRenderer", "Outgoing", "Recipient", "checked_address", "one_line"]
