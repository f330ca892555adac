"""Care Route audit service: a tamper-evident, append-only audit log."""
