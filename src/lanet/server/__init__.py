"""The LANET backend module: the agent API, token management and (later) tickets and the portal."""
