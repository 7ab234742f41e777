"""The fast tier: the service, API and storage contracts on small fake models (tests/fakes.py).

A package, so that its conftest and modules do not collide with tests/'s by name."""
