"""Windows-only parts of the agent: the ``LANETAgent`` service (:mod:`.service`), the frozen
build's service host (:mod:`.host`) and the folders' access lists (:mod:`.acl`). Nothing here is
imported on another OS; the rest of the agent reaches it through :mod:`lanet.agent.folders` and the
CLI's ``service`` verb."""
