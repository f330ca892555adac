"""Care Route's shared service library: the parts every service needs, done once."""
