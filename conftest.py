# Shared fixtures for every test folder (app tests and tests/).
pytest_plugins = ["tests.fixtures"]
