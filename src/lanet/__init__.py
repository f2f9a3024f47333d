"""LANET Agent: endpoint agent and backend module for MSP helpdesks."""

__version__ = "0.1.0"
