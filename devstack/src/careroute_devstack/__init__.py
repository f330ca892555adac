"""Care Route development stack (not for production)."""
