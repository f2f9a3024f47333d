"""Agent self-update on the server: the signed release repository (``repository``), who is
offered what (``rollouts``), and what operators and agents do with releases (``operations``)."""
