"""Email messages rendered from meetings (never sent here: :mod:`meet_sched.delivery` sends)."""

from .headers import MailError, checked_address, one_line
from .render import MailRenderer, Outgoing, Recipient

__all__ = ["MailError", "MailRenderer", "Outgoing", "Recipient", "checked_address", "one_line"]
