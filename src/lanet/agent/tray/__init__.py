"""The system-tray app the PC's user sees: the seed's icon, menu and windows (Estado del Equipo,
Reportar Problema, Mis Tickets, Configuración). It runs in the user's session and talks only to the
agent service, over :mod:`lanet.agent.local`."""
