// "smartcard" char devices (QEMU's -chardev spicevmc,name=smartcard) through the
// libspice-server C ABI, as the reference's smartcard channel: a fake host registers two
// readers, a raw SPICE client links SPICE_CHANNEL_SMARTCARD and speaks VSC (little-endian
// headers), the devices see network-order headers with their reader ids; device messages
// reach the client (VSC_Init dropped), errors for what cannot be done, and the client
// leaving removes its reader.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <gtest/gtest.h>

#include <vector>

#include "fake_char_device.hpp"
#include "fake_host.hpp"
#include "raw_client.hpp"

namespace {

using fake_host::run_until;
using raw_client::Bytes;
using raw_client::get32;
using raw_client::put32;
using raw_client::RawClient;

// vscard_common.h
constexpr uint32_t kInit = 1, kError = 2, kReaderAdd = 3, kReaderRemove = 4, kApdu = 7;
constexpr uint32_t kUndefinedReader = 0xffffffff;

Bytes vsc_le(uint32_t type, uint32_t reader, const Bytes& payload) {
  Bytes b;
  put32(b, type);
  put32(b, reader);
  put32(b, uint32_t(payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
Bytes vsc_be(uint32_t type, uint32_t reader, const Bytes& payload) {
  Bytes b;
  for (uint32_t v : {type, reader, uint32_t(payload.size())}) {
    for (int i = 3; i >= 0; --i) b.push_back(uint8_t(v >> (8 * i)));
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

class CompatSmartcard : public fake_host::ServerTest {
 protected:
  uint32_t session(RawClient& main) {
    EXPECT_TRUE(main.link(port_, SPICE_CHANNEL_MAIN, 0));
    auto init = main.wait_for(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    return init ? get32(init->body, 0) : 0;
  }
  // Runs the host loop until `dev` got `want` (exactly, at the end of what it got).
  bool device_got(FakePort& dev, const Bytes& want) {
    return run_until([&] { return dev.guest_in.size() >= want.size(); }) && dev.guest_in == want;
  }
};

TEST_F(CompatSmartcard, VscMessagesGoBetweenTheClientAndItsReader) {
  FakePort card0(nullptr, "smartcard"), card1(nullptr, "smartcard");
  ASSERT_EQ(spice_server_add_interface(s_, &card0.sin.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &card1.sin.base), 0);
  RawClient main;
  const uint32_t id = session(main);
  RawClient c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_SMARTCARD, id, 0));
  // As the reference: the client takes the first free reader when it links.
  ASSERT_TRUE(run_until([&] { return !card0.states.empty(); }));
  EXPECT_EQ(card0.states, std::vector<int>{1});
  EXPECT_TRUE(card1.states.empty());

  // ReaderAdd (the name stays with the server): the device gets it for reader 0.
  ASSERT_TRUE(
      c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kReaderAdd, kUndefinedReader, {'c', 'a', 'c'})));
  EXPECT_TRUE(device_got(card0, vsc_be(kReaderAdd, 0, {})));
  // The device answers (network order); its VSC_Init is not for the client.
  card0.guest_out = vsc_be(kInit, 0, {0, 0, 0, 2});
  const Bytes success = vsc_be(kError, 0, {0, 0, 0, 0});
  card0.guest_out.insert(card0.guest_out.end(), success.begin(), success.end());
  spice_server_char_device_wakeup(&card0.sin);
  auto m = c.wait_for(SPICE_MSG_SMARTCARD_DATA);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, vsc_le(kError, 0, {0, 0, 0, 0}));

  // An APDU for reader 0 goes there; one for a reader that does not exist is dropped.
  card0.guest_in.clear();
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kApdu, 7, {1, 2, 3})));
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kApdu, 0, {0x00, 0xa4, 0x04, 0x00, 0x07})));
  EXPECT_TRUE(device_got(card0, vsc_be(kApdu, 0, {0x00, 0xa4, 0x04, 0x00, 0x07})));
  // A response split over two reads arrives whole.
  const Bytes response = vsc_be(kApdu, 0, {0x90, 0x00});
  card0.guest_out.assign(response.begin(), response.begin() + 5);
  spice_server_char_device_wakeup(&card0.sin);
  card0.guest_out.assign(response.begin() + 5, response.end());
  spice_server_char_device_wakeup(&card0.sin);
  m = c.wait_for(SPICE_MSG_SMARTCARD_DATA);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, vsc_le(kApdu, 0, {0x90, 0x00}));

  // Removing a reader that was never added: VSC_Error GENERAL_ERROR for it.
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kReaderRemove, 1, {})));
  m = c.wait_for(SPICE_MSG_SMARTCARD_DATA);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, vsc_le(kError, 1, {1, 0, 0, 0}));
  // A malformed message (length beyond the body) is dropped; the channel goes on.
  Bytes bad = vsc_le(kApdu, 0, {1});
  bad[8] = 9;
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, bad));

  // The client leaves: its reader is detached and removed.
  card0.guest_in.clear();
  c.close();
  main.close();
  EXPECT_TRUE(device_got(card0, vsc_be(kReaderRemove, 0, {})));
  EXPECT_EQ(card0.states, (std::vector<int>{1, 0}));
  EXPECT_EQ(spice_server_remove_interface(&card0.sin.base), 0);
  EXPECT_EQ(spice_server_remove_interface(&card1.sin.base), 0);
}

TEST_F(CompatSmartcard, NoFreeReaderIsAnError) {
  FakePort a(nullptr, "smartcard"), b(nullptr, "smartcard");
  ASSERT_EQ(spice_server_add_interface(s_, &a.sin.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &b.sin.base), 0);
  RawClient main, c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_SMARTCARD, session(main), 0));
  ASSERT_TRUE(run_until([&] { return !a.states.empty(); }));
  // Reader b's device claims a 16 MiB message: it is detached (hostile device).
  b.guest_out = vsc_be(kApdu, 0, {});
  b.guest_out[8] = 1;
  spice_server_char_device_wakeup(&b.sin);
  // The host removes reader a under the client: state(0).
  EXPECT_EQ(spice_server_remove_interface(&a.sin.base), 0);
  EXPECT_EQ(a.states, (std::vector<int>{1, 0}));
  // No reader left to take: CANNOT_ADD_MORE_READERS.
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kReaderAdd, kUndefinedReader, {})));
  auto m = c.wait_for(SPICE_MSG_SMARTCARD_DATA);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, vsc_le(kError, kUndefinedReader, {2, 0, 0, 0}));
  EXPECT_TRUE(b.guest_in.empty());
  // The last reader goes: so does the channel, and its client.
  EXPECT_EQ(spice_server_remove_interface(&b.sin.base), 0);
  EXPECT_TRUE(c.closed());
}

TEST_F(CompatSmartcard, ADeviceAnsweringInsideWriteIsReadWithinItsWakeup) {
  // QEMU's ccid-card-passthru answers from inside the server's write and calls
  // spice_server_char_device_wakeup there; QEMU drops what is not read before it returns.
  FakePort card(nullptr, "smartcard");
  std::vector<size_t> left_after_wakeup;
  card.on_write = [&](FakePort& p) {
    const Bytes answer = vsc_be(kError, 0, {0, 0, 0, 0});
    p.guest_out.insert(p.guest_out.end(), answer.begin(), answer.end());
    spice_server_char_device_wakeup(&p.sin);
    left_after_wakeup.push_back(p.guest_out.size());
  };
  ASSERT_EQ(spice_server_add_interface(s_, &card.sin.base), 0);
  RawClient main, c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_SMARTCARD, session(main), 0));
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kReaderAdd, kUndefinedReader, {})));
  auto m = c.wait_for(SPICE_MSG_SMARTCARD_DATA);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, vsc_le(kError, 0, {0, 0, 0, 0}));
  EXPECT_EQ(left_after_wakeup, std::vector<size_t>{0});
  EXPECT_EQ(spice_server_remove_interface(&card.sin.base), 0);
}

TEST_F(CompatSmartcard, AFloodingDeviceWaitsForTheClient) {
  // 16 MiB of answers for a client that does not read: the server holds at most its window
  // (plus what the socket takes); the rest waits in the device until the client reads.
  FakePort card(nullptr, "smartcard");
  ASSERT_EQ(spice_server_add_interface(s_, &card.sin.base), 0);
  RawClient main, c;
  ASSERT_TRUE(c.link(port_, SPICE_CHANNEL_SMARTCARD, session(main), 0));
  ASSERT_TRUE(run_until([&] { return !card.states.empty(); }));
  ASSERT_TRUE(c.send(SPICE_MSGC_SMARTCARD_DATA, vsc_le(kReaderAdd, kUndefinedReader, {})));
  ASSERT_TRUE(run_until([&] { return !card.guest_in.empty(); }));
  const Bytes answer = vsc_be(kApdu, 0, Bytes(65536, 0x5a));
  constexpr size_t kAnswers = 256;
  for (size_t i = 0; i < kAnswers; ++i) {
    card.guest_out.insert(card.guest_out.end(), answer.begin(), answer.end());
  }
  spice_server_char_device_wakeup(&card.sin);
  fake_host::run_until([] { return false; }, 300);
  EXPECT_GT(card.guest_out.size(), answer.size() * kAnswers / 2)
      << "the device was read past the window";
  // The client reads: everything arrives.
  size_t got = 0;
  ASSERT_TRUE(run_until([&] {
    while (auto m = c.poll()) {
      if (m->type == SPICE_MSG_SMARTCARD_DATA) ++got;
    }
    return got == kAnswers;
  }, 20000)) << got << " of " << kAnswers;
  EXPECT_TRUE(card.guest_out.empty());
  EXPECT_EQ(spice_server_remove_interface(&card.sin.base), 0);
}

}  // namespace
