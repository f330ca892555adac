from careroute_platform.migrations import run_env
from referral.adapters.orm import metadata

run_env(metadata)
