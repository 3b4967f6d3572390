// "port" char devices (QEMU's -chardev spiceport) through the libspice-server C ABI: a fake
// host (fake_host.hpp) registers ports whose guest side is two byte buffers, and raw SPICE
// clients (raw_client.hpp) use them as SPICE_CHANNEL_PORT channels: channel ids and
// CHANNELS_LIST, PORT_INIT, state(1)/state(0) per client, data both ways with a guest that
// takes 7 bytes per write, 3 MB through the in-flight window, events both ways.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_char_device.hpp"
#include "fake_host.hpp"
#include "raw_client.hpp"

namespace {

using fake_host::run_until;
using raw_client::Bytes;
using raw_client::get32;
using raw_client::RawClient;

using Channel = std::pair<uint8_t, uint8_t>;
std::vector<Channel> channels_of(const raw_client::Message& m) {
  std::vector<Channel> out(get32(m.body, 0));
  for (size_t i = 0; i < out.size(); ++i) out[i] = {m.body[4 + 2 * i], m.body[5 + 2 * i]};
  return out;
}

class CompatPort : public fake_host::ServerTest {
 protected:
  // A main channel with its CHANNELS_LIST; returns the session id.
  uint32_t session(RawClient& main, std::vector<Channel>* listed = nullptr) {
    EXPECT_TRUE(main.link(port_, SPICE_CHANNEL_MAIN, 0));
    auto init = main.wait_for(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    EXPECT_TRUE(main.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
    auto list = main.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST);
    EXPECT_TRUE(list.has_value());
    if (listed && list) *listed = channels_of(*list);
    return init ? get32(init->body, 0) : 0;
  }

};

TEST_F(CompatPort, PortsAreChannelsWithTheirNamesAndData) {
  FakePort hmp("org.qemu.monitor.hmp.0");
  ASSERT_EQ(spice_server_add_interface(s_, &hmp.sin.base), 0);
  hmp.guest_out = {'h', 'e', 'l', 'l', 'o'};
  spice_server_char_device_wakeup(&hmp.sin);
  EXPECT_EQ(hmp.guest_out.size(), 5u);  // no client: nothing is read (the guest waits)
  EXPECT_TRUE(hmp.states.empty());

  RawClient main;
  std::vector<Channel> listed;
  const uint32_t id = session(main, &listed);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), Channel{SPICE_CHANNEL_PORT, 0}), 1);

  RawClient c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_PORT, id, 0));
  auto init = c.wait_for(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(get32(init->body, 0), 23u);
  EXPECT_EQ(std::string(init->body.begin() + 9, init->body.end() - 1), "org.qemu.monitor.hmp.0");
  EXPECT_EQ(init->body[8], 0);  // the host has not opened its side
  // The client is there: state(1), and what the guest wrote comes.
  auto data = c.wait_for(SPICE_MSG_SPICEVMC_DATA);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->body, (Bytes{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(hmp.states, std::vector<int>{1});

  spice_server_port_event(&hmp.sin, SPICE_PORT_EVENT_OPENED);
  auto ev = c.wait_for(SPICE_MSG_PORT_EVENT);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->body, Bytes{SPICE_PORT_EVENT_OPENED});

  // Client -> guest through a guest that takes 7 bytes per write, in order.
  hmp.write_limit = 7;
  Bytes sent;
  for (int i = 0; i < 40; ++i) {
    Bytes msg(100 + i, uint8_t(i));
    ASSERT_TRUE(c.send(SPICE_MSGC_SPICEVMC_DATA, msg));
    sent.insert(sent.end(), msg.begin(), msg.end());
  }
  ASSERT_TRUE(c.send(SPICE_MSGC_PORT_EVENT, {SPICE_PORT_EVENT_BREAK}));
  ASSERT_TRUE(run_until([&] { return hmp.guest_in.size() >= sent.size() && !hmp.events.empty(); }));
  EXPECT_EQ(hmp.guest_in, sent);
  EXPECT_EQ(hmp.events, Bytes{SPICE_PORT_EVENT_BREAK});

  // Guest -> client: 3 MB, more than the 1 MiB the host may read ahead of the socket.
  Bytes big(3 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7 + i / 4096);
  hmp.guest_out = big;
  spice_server_char_device_wakeup(&hmp.sin);
  Bytes got;
  while (got.size() < big.size()) {
    auto m = c.wait_for(SPICE_MSG_SPICEVMC_DATA);
    ASSERT_TRUE(m.has_value()) << got.size() << " of " << big.size();
    EXPECT_LE(m->body.size(), 64u * 1024 + 32);
    got.insert(got.end(), m->body.begin(), m->body.end());
  }
  EXPECT_EQ(got, big);

  // The client leaves: state(0); a new one is welcome and sees the port open.
  c.close();
  ASSERT_TRUE(run_until([&] { return hmp.states.size() == 2; }));
  EXPECT_EQ(hmp.states, (std::vector<int>{1, 0}));
  RawClient again;
  ASSERT_TRUE(again.link(port_, SPICE_CHANNEL_PORT, id, 0));
  auto init2 = again.wait_for(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init2.has_value());
  EXPECT_EQ(init2->body[8], 1);
  ASSERT_TRUE(run_until([&] { return hmp.states.size() == 3; }));

  // The host removes the port: its client is closed, the channel is gone.
  EXPECT_EQ(spice_server_remove_interface(&hmp.sin.base), 0);
  EXPECT_TRUE(again.closed());
  EXPECT_EQ(hmp.states, (std::vector<int>{1, 0, 1, 0}));
  RawClient late;
  EXPECT_FALSE(late.link(port_, SPICE_CHANNEL_PORT, id, 0));
}

TEST_F(CompatPort, ChannelIdsAndLateRegistration) {
  FakePort a("org.test.a"), webdav("org.spice-space.webdav.0");
  ASSERT_EQ(spice_server_add_interface(s_, &a.sin.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &webdav.sin.base), 0);
  RawClient main;
  std::vector<Channel> listed;
  const uint32_t id = session(main, &listed);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), Channel{SPICE_CHANNEL_PORT, 0}), 1);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), Channel{SPICE_CHANNEL_WEBDAV, 0}), 1);
  // A port registered while the session runs: announced in a CHANNELS_LIST of its own, with
  // the next free id.
  FakePort b("org.test.b");
  ASSERT_EQ(spice_server_add_interface(s_, &b.sin.base), 0);
  auto more = main.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST);
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(channels_of(*more), (std::vector<Channel>{{SPICE_CHANNEL_PORT, 1}}));
  RawClient c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_PORT, id, 1));
  auto init = c.wait_for(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(std::string(init->body.begin() + 9, init->body.end() - 1), "org.test.b");
  // Ids are reused: with the first port gone, a new one takes id 0 again.
  EXPECT_EQ(spice_server_remove_interface(&a.sin.base), 0);
  FakePort d("org.test.d");
  ASSERT_EQ(spice_server_add_interface(s_, &d.sin.base), 0);
  auto again = main.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(channels_of(*again), (std::vector<Channel>{{SPICE_CHANNEL_PORT, 0}}));
  for (FakePort* p : {&b, &d, &webdav}) EXPECT_EQ(spice_server_remove_interface(&p->sin.base), 0);
}

}  // namespace
