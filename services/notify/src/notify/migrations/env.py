from careroute_platform.migrations import run_env
from notify.adapters.orm import metadata

run_env(metadata)
