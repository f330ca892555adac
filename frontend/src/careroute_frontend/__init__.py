"""Care Route shared staff frontend (backend-for-frontend)."""
