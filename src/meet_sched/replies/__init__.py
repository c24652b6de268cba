"""iMIP answers coming in: Maildir, IMAP and files; reading, matching and trust."""
