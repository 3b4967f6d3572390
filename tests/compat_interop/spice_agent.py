#!/usr/bin/python3
"""spice_agent.py HOST PORT [ACTION...]: a spice-client-glib session that talks to the guest
agent (spice-vdagent) through the main channel, and prints one JSON line per thing it
learns, as it happens (stdout is flushed after each line):

  {"agent": true|false}             the main channel's agent-connected changed
  {"caps": true, "monitors_config": B, "clipboard": B}   the agent announced its capabilities
  {"resize": [W, H], "sent": B}     --resize was sent (VD_AGENT_MONITORS_CONFIG)
  {"grabbed": true}                 --paste: the client owns the guest's CLIPBOARD now
  {"requested": true}               the guest asked the client for the clipboard's text
  {"guest_grab": true}              the guest took the clipboard (something copied there)
  {"text": "..."}                   --copy: the guest's clipboard text received
  {"done": true}                    every action finished (or the timeout hit)

ACTIONS, run in order once the agent has announced its capabilities:
  --resize WxH   ask the guest for a WxH display 0 (update_display + send_monitor_config)
  --paste TEXT   grab the guest's CLIPBOARD selection and answer its requests with TEXT
                 (@PATH: the contents of that file)
  --copy         wait for the guest to grab CLIPBOARD, request it as UTF-8, print the text
  --hold SECS    stay connected that long afterwards (default 1)
  --timeout SECS give up after that long (default 20)

Exit 0 when the agent connected and every action finished, 1 otherwise. Run with
/usr/bin/python3 (Debian's gi module)."""
import ctypes
import json
import sys

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

# spice-protocol's vd_agent.h
VD_AGENT_CAP_CLIPBOARD_BY_DEMAND = 5
VD_AGENT_CAP_MONITORS_CONFIG = 1
VD_AGENT_CLIPBOARD_UTF8_TEXT = 1
SELECTION_CLIPBOARD = 0


def emit(**kv):
    print(json.dumps(kv, sort_keys=True), flush=True)


def parse(argv):
    actions, hold, timeout = [], 1.0, 20.0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--resize":
            w, h = (int(v) for v in argv[i + 1].split("x"))
            actions.append(("resize", (w, h)))
            i += 2
        elif a == "--paste":
            text = argv[i + 1]
            if text.startswith("@"):
                with open(text[1:], encoding="utf-8") as f:
                    text = f.read()
            actions.append(("paste", text))
            i += 2
        elif a == "--copy":
            actions.append(("copy", None))
            i += 1
        elif a == "--hold":
            hold = float(argv[i + 1])
            i += 2
        elif a == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        else:
            raise SystemExit("unknown argument %s" % a)
    return actions, hold, timeout


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    actions, hold, timeout = parse(sys.argv[3:])
    loop = GLib.MainLoop()
    state = {"main": None, "started": False, "paste": None, "copy_wait": False,
             "ok": False, "agent": False}

    def finish():
        state["ok"] = True
        GLib.timeout_add(int(hold * 1000), loop.quit)

    def next_action():
        if not actions:
            finish()
            return
        kind, arg = actions.pop(0)
        main = state["main"]
        if kind == "resize":
            w, h = arg
            Spice.MainChannel.update_display_enabled(main, 0, True, False)
            Spice.MainChannel.update_display(main, 0, 0, 0, w, h, False)
            sent = Spice.MainChannel.send_monitor_config(main)
            emit(resize=[w, h], sent=bool(sent))
            next_action()
        elif kind == "paste":
            state["paste"] = arg.encode()
            Spice.MainChannel.clipboard_selection_grab(main, SELECTION_CLIPBOARD,
                                                       [VD_AGENT_CLIPBOARD_UTF8_TEXT])
            emit(grabbed=True)
            next_action()
        elif kind == "copy":
            state["copy_wait"] = True  # next_action() once the text arrived

    def on_agent_update(main):
        connected = bool(main.get_property("agent-connected"))
        if connected != state["agent"]:
            state["agent"] = connected
            emit(agent=connected)
        if not connected or state["started"]:
            return
        mc = Spice.MainChannel.agent_test_capability(main, VD_AGENT_CAP_MONITORS_CONFIG)
        cb = Spice.MainChannel.agent_test_capability(main, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND)
        if not (mc or cb):
            return  # capabilities not announced yet
        state["started"] = True
        emit(caps=True, monitors_config=bool(mc), clipboard=bool(cb))
        # Let the agent settle its own start-up messages (it answers the client's caps).
        GLib.timeout_add(300, lambda: (next_action(), False)[1])

    def on_request(main, selection, vtype):
        emit(requested=True, selection=selection, type=vtype)
        if state["paste"] is None or vtype != VD_AGENT_CLIPBOARD_UTF8_TEXT:
            return False
        Spice.MainChannel.clipboard_selection_notify(main, selection, vtype,
                                                     list(state["paste"]))
        return True

    def on_guest_grab(main, selection, types, ntypes):
        emit(guest_grab=True, selection=selection)
        if state["copy_wait"] and selection == SELECTION_CLIPBOARD:
            Spice.MainChannel.clipboard_selection_request(main, selection,
                                                          VD_AGENT_CLIPBOARD_UTF8_TEXT)
        return True

    def on_clipboard(main, selection, vtype, data, size):
        # `data` is a gpointer: an address for as long as this handler runs.
        text = ctypes.string_at(data, size).decode("utf-8", "replace") if data else ""
        emit(text=text.rstrip("\0"), selection=selection, type=vtype)
        if state["copy_wait"]:
            state["copy_wait"] = False
            next_action()

    def on_event(channel, event):
        if event == Spice.ChannelEvent.OPENED and isinstance(channel, Spice.MainChannel):
            on_agent_update(channel)

    def on_channel(_, channel):
        if isinstance(channel, Spice.MainChannel):
            state["main"] = channel
            GObject.Object.connect(channel, "main-agent-update", on_agent_update)
            GObject.Object.connect(channel, "main-clipboard-selection-request", on_request)
            GObject.Object.connect(channel, "main-clipboard-selection-grab", on_guest_grab)
            GObject.Object.connect(channel, "main-clipboard-selection", on_clipboard)
            GObject.Object.connect(channel, "channel-event", on_event)

    session = Spice.Session()
    session.set_property("uri", "spice://%s:%d" % (host, port))
    GObject.Object.connect(session, "channel-new", on_channel)
    Spice.Session.connect(session)
    GLib.timeout_add(int(timeout * 1000), loop.quit)
    loop.run()
    session.disconnect()
    emit(done=True, ok=state["ok"])
    return 0 if state["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
