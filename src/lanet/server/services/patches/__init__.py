"""OS updates (patch management) on the server: scans received, each asset's updates and their
history (:mod:`.scans`), and technicians' requests for a scan now (:mod:`.requests`)."""
