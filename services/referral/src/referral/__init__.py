"""Care Route referral service: Service directory, referrals and their lifecycle, clocks and counter-referrals."""
