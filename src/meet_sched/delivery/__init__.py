"""Sending what the outbox says is due: the dispatcher, its pass, job → message, the retry policy, transports."""
