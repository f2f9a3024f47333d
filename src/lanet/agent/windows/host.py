"""Entry of ``bin\\agent-service.exe``, the frozen build's service host: this process is the service.

The service control manager starts the executable named in the service's configuration and talks to
that very process, so the launcher loads Python in-process and runs this module, which hands the
process to the dispatcher. Started from a console instead, it says what it is for.
"""

import sys

import pywintypes

from lanet.agent.windows import service as winservice

#: ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: not started by the service control manager.
NOT_A_SERVICE = 1063


def main() -> int:
    try:
        winservice.dispatch()
    except pywintypes.error as exc:
        if exc.winerror != NOT_A_SERVICE:
            raise
        print(
            "agent-service.exe runs the LANETAgent service; use 'agent.exe service start', or"
            " 'agent.exe run' to run the agent in this console",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
