"""Sending what the outbox says is due: transports (SMTP, Maildir) and the dispatcher."""
