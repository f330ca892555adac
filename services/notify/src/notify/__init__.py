"""Care Route notify service: In-app inbox, e-mail, signed webhooks, reminders and escalations."""
