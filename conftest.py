"""The whole suite's rules, for tests/ and the products' own tests under apps/ alike."""

pytest_plugins = ["tests.support.tiers"]
