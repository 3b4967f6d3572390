#pragma once
// A fake host char device for compat's tests: its guest side is two byte buffers (what the
// guest wrote, for the server to read; what the server wrote to it), a per-write limit, and
// the state() and event() calls it got. Subtype "port" (with a port name) by default.
#define SPICE_SERVER_INTERNAL 1
#include <spice.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace {

using FakeBytes = std::vector<uint8_t>;

struct FakePort {
  SpiceCharDeviceInstance sin{};  // first member: the instance pointer is the FakePort's
  FakeBytes guest_out;                // what the guest wrote, for the server to read
  FakeBytes guest_in;                 // what the server wrote to the guest
  size_t write_limit = 1 << 20;   // bytes the guest takes per write call
  std::vector<int> states;
  std::vector<uint8_t> events;
  /// Runs after each write the device took (e.g. a device that answers at once).
  std::function<void(FakePort&)> on_write;

  explicit FakePort(const char* name, const char* subtype = "port");
};
FakePort* port_of(SpiceCharDeviceInstance* sin) { return reinterpret_cast<FakePort*>(sin); }

const SpiceCharDeviceInterface* port_interface() {
  static const SpiceCharDeviceInterface c = [] {
    SpiceCharDeviceInterface c{};
    c.base.type = SPICE_INTERFACE_CHAR_DEVICE;
    c.base.description = "fake port";
    c.base.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR;
    c.base.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR;
    c.state = [](SpiceCharDeviceInstance* sin, int on) { port_of(sin)->states.push_back(on); };
    c.write = [](SpiceCharDeviceInstance* sin, const uint8_t* buf, int len) {
      auto* p = port_of(sin);
      const int n = std::min(len, int(p->write_limit));
      p->guest_in.insert(p->guest_in.end(), buf, buf + n);
      if (p->on_write && n > 0) p->on_write(*p);
      return n;
    };
    c.read = [](SpiceCharDeviceInstance* sin, uint8_t* buf, int len) {
      auto* p = port_of(sin);
      const int n = std::min(len, int(p->guest_out.size()));
      std::copy_n(p->guest_out.begin(), n, buf);
      p->guest_out.erase(p->guest_out.begin(), p->guest_out.begin() + n);
      return n;
    };
    c.event = [](SpiceCharDeviceInstance* sin, uint8_t e) { port_of(sin)->events.push_back(e); };
    return c;
  }();
  return &c;
}

inline FakePort::FakePort(const char* name, const char* subtype) {
  sin.base.sif = &port_interface()->base;
  sin.subtype = subtype;
  sin.portname = name;
}

}  // namespace
