"""The agent's secrets at rest: how they are sealed (DPAPI on Windows, Fernet over the libcrypto
``ssl`` already loaded elsewhere: :mod:`.protect`, :mod:`.fernet`) and which ones there are (the
JWT, the refresh credential, the identity secret: :mod:`.credentials`)."""
