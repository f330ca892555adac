"""Care Route intake service: Survivors, cases, incidents, consent, the encrypted identity vault and statistics."""
