#!/usr/bin/python3
"""spice_port.py HOST PORT PORT_NAME [--send TEXT]... [--wait TEXT] [--timeout SECS]: a
spice-client-glib session that opens the SPICE_CHANNEL_PORT channel named PORT_NAME
(SpicePortChannel) and prints one JSON line per thing it learns, as it happens:

  {"port": NAME, "opened": B}   a port channel is up (PORT_INIT: its name, whether the host
                                has its side open); every port of the session is listed
  {"event": N, "port": NAME}    a PORT_EVENT (SPICE_PORT_EVENT_*; NAME may be null: spice-gtk
                                reports an opened port's OPENED before its name)
  {"sent": TEXT}                a --send was written (once TEXT... `--wait` was seen)
  {"received": TEXT}            everything the port sent, at the end (latin-1)

Each --send is written once the text received holds one more --wait TEXT (the one before
it) than it did when the previous --send was written (the first send only waits for the
channel). Exit 0 when every --send was written and the last --wait (if
any after it) arrived, 1 otherwise. Run with /usr/bin/python3 (Debian's gi module).

spice_port_channel_write_async is called through ctypes with a buffer kept alive until the
process ends: PyGObject frees its copy of a list argument when the call returns, before
the asynchronous write has read it."""
import ctypes
import json
import sys

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

_lib = ctypes.CDLL("libspice-client-glib-2.0.so.8")
_lib.spice_port_channel_write_async.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_size_t, ctypes.c_void_p,
                                                ctypes.c_void_p, ctypes.c_void_p]
ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_buffers = []


def port_write(channel, data):
    buf = ctypes.create_string_buffer(data, len(data))
    _buffers.append(buf)
    ptr = ctypes.pythonapi.PyCapsule_GetPointer(channel.__gpointer__, None)
    _lib.spice_port_channel_write_async(ptr, ctypes.addressof(buf), len(data), None, None, None)


def emit(**kv):
    print(json.dumps(kv, sort_keys=True), flush=True)


def main():
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    steps, timeout, wait = [], 20.0, None
    args = sys.argv[4:]
    i = 0
    while i < len(args):
        if args[i] == "--send":
            steps.append((wait, args[i + 1].encode().decode("unicode_escape").encode("latin-1")))
            wait = None
        elif args[i] == "--wait":
            wait = args[i + 1].encode()
        elif args[i] == "--timeout":
            timeout = float(args[i + 1])
        else:
            raise SystemExit("unknown argument %s" % args[i])
        i += 2
    final_wait = wait
    loop = GLib.MainLoop()
    got = bytearray()
    state = {"channel": None, "sent": 0, "mark": b"", "done": False}

    def arrived(text):
        # One more `text` than when the previous --send was written.
        return text is None or got.count(text) > state["mark"].count(text)

    def advance():
        ch = state["channel"]
        while ch is not None and state["sent"] < len(steps):
            need, data = steps[state["sent"]]
            if not arrived(need):
                return
            port_write(ch, data)
            state["sent"] += 1
            state["mark"] = bytes(got)
            emit(sent=data.decode("latin-1"))
        if state["sent"] == len(steps) and arrived(final_wait) and not state["done"]:
            state["done"] = True
            GLib.timeout_add(300, loop.quit)

    def on_event(ch, event):
        emit(event=event, port=ch.get_property("port-name"))

    def on_port(ch, _pspec):
        emit(port=ch.get_property("port-name"), opened=bool(ch.get_property("port-opened")))
        if state["channel"] is None and ch.get_property("port-name") == name:
            state["channel"] = ch
            advance()

    def on_data(ch, data, size):
        if ch is state["channel"]:
            got.extend(ctypes.string_at(data, size))
            advance()

    def on_channel(_, ch):
        if isinstance(ch, Spice.PortChannel):
            GObject.Object.connect(ch, "port-data", on_data)
            GObject.Object.connect(ch, "port-event", on_event)
            # PORT_INIT sets `port-opened`, then `port-name`.
            GObject.Object.connect(ch, "notify::port-name", on_port)
            Spice.Channel.connect(ch)

    session = Spice.Session()
    session.set_property("uri", "spice://%s:%d" % (host, port))
    GObject.Object.connect(session, "channel-new", on_channel)
    Spice.Session.connect(session)
    GLib.timeout_add(int(timeout * 1000), loop.quit)
    loop.run()
    session.disconnect()
    emit(received=got.decode("latin-1"))
    return 0 if state["done"] else 1


if __name__ == "__main__":
    sys.exit(main())
