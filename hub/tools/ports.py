"""Free TCP ports on the loopback interface, for the children the tools and tests start."""

import contextlib
import socket


def free_ports(count: int) -> list[int]:
    """`count` different ports that nothing listens on now."""
    with contextlib.ExitStack() as stack:
        # All bound at once, so that the ports differ.
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
