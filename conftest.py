# The real embedded parts (PostgreSQL, broker, identity provider) are started once per test run.
pytest_plugins = ["careroute_devstack.testing"]
