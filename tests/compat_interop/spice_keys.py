#!/usr/bin/python3
"""spice_keys.py HOST PORT [--at X,Y] SCANCODE...: presses and releases PC/XT scancodes
through a SPICE server's inputs channel, using spice-client-glib (the library inside
remote-viewer). --at first moves the pointer to X,Y of display 0 (client mouse mode), so an
X server without a window manager gives the window there the keyboard focus.

Opens a session, connects only the inputs channel, sends each key (press, then release
100 ms later, keys 200 ms apart) and exits 0 once all were sent, 1 if the inputs channel
never opened within the timeout. Run with /usr/bin/python3 (Debian's gi module)."""
import sys

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    at = None
    if rest[:1] == ["--at"]:
        at = tuple(int(v) for v in rest[1].split(","))
        rest = rest[2:]
    codes = [int(c, 0) for c in rest]
    loop = GLib.MainLoop()
    sent = []

    def after(ms, fn):
        def once():
            fn()
            return False
        GLib.timeout_add(ms, once)

    def on_event(channel, event):
        if event != Spice.ChannelEvent.OPENED or not isinstance(channel, Spice.InputsChannel):
            return
        if at is not None:
            after(100, lambda: Spice.InputsChannel.position(channel, at[0], at[1], 0, 0))
            after(200, lambda: Spice.InputsChannel.position(channel, at[0] + 1, at[1], 0, 0))
        for i, code in enumerate(codes):
            after(300 + 200 * i, lambda c=code: Spice.InputsChannel.key_press(channel, c))
            after(400 + 200 * i,
                  lambda c=code: (Spice.InputsChannel.key_release(channel, c), sent.append(c)))
        after(700 + 200 * len(codes), loop.quit)

    def on_channel(session, channel):
        GObject.Object.connect(channel, "channel-event", on_event)
        if isinstance(channel, Spice.InputsChannel):
            Spice.Channel.connect(channel)

    session = Spice.Session()
    session.set_property("uri", "spice://%s:%d" % (host, port))
    GObject.Object.connect(session, "channel-new", on_channel)
    Spice.Session.connect(session)
    GLib.timeout_add(8000 + 200 * len(codes), loop.quit)
    loop.run()
    session.disconnect()
    print("sent %d of %d keys" % (len(sent), len(codes)))
    return 0 if len(sent) == len(codes) else 1


if __name__ == "__main__":
    sys.exit(main())
