"""The outbox: which emails to send, claimed with a lease, and what became of each.

Planning is a reconciliation, not a reaction to events: from the meetings as they are now
and the rows already there (sent ones are history), it works out which messages should
exist and adds or drops *pending* rows to match.  So it can run after every sync and on
a timer (the reminder horizon rolls forward), and a repeated run changes nothing.

* **Invitations** (iMIP): each current attendee of an active meeting should have received
  a REQUEST announcing the meeting as it is now (``version``, a hash of what an invitation
  shows); someone whose last received message was a REQUEST, and who is no longer invited
  (or the meeting is cancelled or removed), should receive a CANCEL.
* **Reminders**: one per occurrence × attendee × offset, due at ``start - offset``, planned
  when the due time enters the horizon.  A reminder already due when it would be planned
  (a meeting added or moved at short notice) is not planned: the invitation or update
  goes out at that moment anyway.

Every function takes the caller's session; a use case decides where a transaction ends.

The package, by what each part does:

* ``messages``: the kinds of message, what a plan adds or drops, a claimed job and its outcome;
* ``identity``: message keys and Message-IDs, and the versions of what an invitation shows;
* ``plan``: the reconciliation itself (invitations, and updates of single occurrences);
* ``reminders``: the reminders' part of it, and when a reminder is too late;
* ``shown``: what each recipient was last shown (kept invitation versions);
* ``rows``: reading and inserting the rows planning works on;
* ``dispatch``: retiring, claiming with a lease, recording outcomes;
* ``entries``: the outbox listed for people.

Names with a leading underscore are the package's own: its modules share them, nothing outside
does (``rows.insert_new`` is how store/notices.py and store/summaries.py add rows of their kinds).
"""

from ..status import OutboxStatus as OutboxStatus  # what a message's row says; kept here for its users
from .dispatch import claim as claim
from .dispatch import finish as finish
from .dispatch import meetings_for as meetings_for
from .dispatch import next_due as next_due
from .dispatch import release as release
from .dispatch import renew as renew
from .dispatch import retire_due as retire_due
from .entries import OutboxEntry as OutboxEntry
from .entries import counts as counts
from .entries import entries as entries
from .identity import attendee_data as attendee_data
from .identity import invitation_version as invitation_version
from .identity import message_id as message_id
from .identity import message_key as message_key
from .identity import occurrence_version as occurrence_version
from .messages import INVITATION_KINDS as INVITATION_KINDS
from .messages import Finished as Finished
from .messages import Job as Job
from .messages import Mail as Mail
from .messages import MessageKind as MessageKind
from .messages import PlanPolicy as PlanPolicy
from .messages import PlanReport as PlanReport
from .messages import SendOutcome as SendOutcome
from .plan import Troubled as Troubled
from .plan import assume_sent as assume_sent
from .plan import plan_outbox as plan_outbox
from .reminders import ALL_DAY_LOOKBACK as ALL_DAY_LOOKBACK
from .reminders import ALL_DAY_REMINDER_GRACE as ALL_DAY_REMINDER_GRACE
from .reminders import reminder_too_late as reminder_too_late
from .shown import VERSIONS_KEPT as VERSIONS_KEPT
from .shown import previously_shown as previously_shown
from .shown import remember_version as remember_version
