"""Officials' accounts: sign-in throttling (more of the accounts code moves here later)."""
