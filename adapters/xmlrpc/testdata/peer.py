"""An XML-RPC server made with nothing but Python's standard library, for the xmlrpc kind's
tests: a real peer nobody in this project wrote. It listens on 127.0.0.1, port 0, prints the
port it was given on stdout, and serves until it is killed.

Its functions return and echo every XML-RPC type, raise faults, and count side effects, so
tests can tell how many calls reached it.
"""

import datetime
import sys
import threading
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer

counter = {"n": 0}
lock = threading.Lock()


def echo(value):
    """Returns its argument as Python read it."""
    return value


def echo_params(*params):
    """Returns every parameter it got, as an array, so positional order shows."""
    return list(params)


def describe(*params):
    """Returns how Python read each parameter: its type name and repr."""
    return ["%s:%r" % (type(p).__name__, p) for p in params]


def all_types():
    """A struct with a member of every type."""
    return {
        "i": 42,
        "neg": -7,
        "flag": True,
        "text": "h\u00e9llo <&> \u4e16\u754c",
        "ratio": 3.25,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "blob": b"\x00\x01binary\xff",
        "items": [1, 2, 3],
        "labels": {"color": "red", "size": "L"},
        "nothing": None,
        "anything": [1, "two", 3.5, {"k": False}, None],
    }


def ticket(ticket_id):
    """A ticket, as a tracker returns one."""
    if ticket_id == 404:
        raise xmlrpc.client.Fault(404, "ticket %d does not exist" % ticket_id)
    return {
        "id": ticket_id,
        "title": "Printer on fire",
        "owner": "ops",
        "tags": ["hardware", "urgent"],
        "opened": datetime.datetime(2026, 11, 29, 8, 30, 0),
    }


def fault(code, text):
    """Raises the fault it is asked for."""
    raise xmlrpc.client.Fault(code, text)


def big():
    """Returns 2**40, which Python's marshaller refuses (it writes no i8): a fault."""
    return 2 ** 40


def counter_add(n):
    """Adds n to the counter and returns the new value: a side effect."""
    with lock:
        counter["n"] += n
        return counter["n"]


def counter_get():
    with lock:
        return counter["n"]


def counter_fault(n):
    """Adds n to the counter, then fails with fault 503: the side effect happened."""
    with lock:
        counter["n"] += n
    raise xmlrpc.client.Fault(503, "the ledger is busy")


def crash():
    """Fails with an exception Python turns into fault 1 with its type and message."""
    raise ValueError("secret internal state")


def main():
    server = SimpleXMLRPCServer(("127.0.0.1", 0), allow_none=True, use_builtin_types=True,
                                logRequests=False)
    server.register_introspection_functions()
    for f in (echo, echo_params, describe, all_types, ticket, fault, big, counter_add,
              counter_get, counter_fault, crash):
        server.register_function(f)
    server.register_function(ticket, "ticket.get")
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
