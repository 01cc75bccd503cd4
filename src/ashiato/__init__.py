"""ashiato: catch and investigate intruders who walk through a network with valid credentials."""

__version__ = "0.1.0"
