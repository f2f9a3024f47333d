"""The LANET endpoint agent."""
