from audit.adapters.orm import metadata
from careroute_platform.migrations import run_env

run_env(metadata)
