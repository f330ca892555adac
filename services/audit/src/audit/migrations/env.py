from careroute_platform.migrations import run_env
from audit.adapters.orm import metadata

run_env(metadata)
