#!/usr/bin/python3
"""spice_session_info.py HOST PORT [HOLD_SECONDS]: connects a spice-client-glib session, waits for the main
channel to be up, and prints one JSON line with what the server told about itself: the VM
name (MAIN_NAME) and the mouse mode. (The session's "uuid" property does not come through
GObject introspection usably, so MAIN_UUID is not checked here.) Exit 1 when the main channel never
opened. HOLD_SECONDS (default 0.5) is how long the session stays after the main channel
opened. Run with /usr/bin/python3 (Debian's gi module)."""
import json
import sys

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    hold_ms = int(float(sys.argv[3]) * 1000) if len(sys.argv) > 3 else 500
    loop = GLib.MainLoop()
    info = {}
    main = []
    session = Spice.Session()
    session.set_property("uri", "spice://%s:%d" % (host, port))

    def collect():
        info["name"] = session.get_property("name")
        if main:
            info["mouse_mode"] = main[0].get_property("mouse-mode")
        loop.quit()
        return False

    def on_event(channel, event):
        if event == Spice.ChannelEvent.OPENED and isinstance(channel, Spice.MainChannel):
            main.append(channel)
            GLib.timeout_add(hold_ms, collect)  # NAME follows INIT

    def on_channel(_, channel):
        GObject.Object.connect(channel, "channel-event", on_event)

    GObject.Object.connect(session, "channel-new", on_channel)
    Spice.Session.connect(session)
    GLib.timeout_add(8000 + hold_ms, loop.quit)
    loop.run()
    session.disconnect()
    print(json.dumps(info, sort_keys=True))
    return 0 if "name" in info else 1


if __name__ == "__main__":
    sys.exit(main())
