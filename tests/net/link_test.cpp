// The link stage: header and SpiceLinkMess parsing (including hostile input), the reply's
// exact bytes, and the RSA-OAEP ticket.
#include "spiceflow/net/link.hpp"

#include <gtest/gtest.h>
#include <spice/protocol.h>

#include <chrono>
#include <initializer_list>
#include <vector>

namespace spiceflow::net {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes b(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes le32(uint32_t v) {
  return b({int(v & 0xff), int(v >> 8 & 0xff), int(v >> 16 & 0xff), int(v >> 24)});
}

// ---- header ----

Bytes header(uint32_t major, uint32_t minor, uint32_t size) {
  return cat({b({'R', 'E', 'D', 'Q'}), le32(major), le32(minor), le32(size)});
}

TEST(LinkHeader, ParsesValidHeader) {
  uint32_t err = 99;
  auto h = parse_link_header(header(2, 2, 18 + 8), &err);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->major, 2u);
  EXPECT_EQ(h->minor, 2u);
  EXPECT_EQ(h->size, 26u);
  EXPECT_EQ(err, uint32_t{SPICE_LINK_ERR_OK});
}

TEST(LinkHeader, AcceptsAnyMinorAndNullErrorPointer) {
  EXPECT_TRUE(parse_link_header(header(2, 0, 18), nullptr).ok());
  EXPECT_TRUE(parse_link_header(header(2, 3, 18), nullptr).ok());  // spice-gtk may send 3
}

TEST(LinkHeader, RejectsBadMagic) {
  uint32_t err = 0;
  Bytes bytes = header(2, 2, 18);
  bytes[3] = 'X';
  EXPECT_FALSE(parse_link_header(bytes, &err).ok());
  EXPECT_EQ(err, uint32_t{SPICE_LINK_ERR_INVALID_MAGIC});
  // An HTTP request on the SPICE port.
  Bytes http = b({'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r',
                  '\n'});
  EXPECT_FALSE(parse_link_header(http, &err).ok());
  EXPECT_EQ(err, uint32_t{SPICE_LINK_ERR_INVALID_MAGIC});
}

TEST(LinkHeader, RejectsWrongMajor) {
  for (uint32_t major : {0u, 1u, 3u, 0xffffffffu}) {
    uint32_t err = 0;
    EXPECT_FALSE(parse_link_header(header(major, 2, 18), &err).ok()) << major;
    EXPECT_EQ(err, uint32_t{SPICE_LINK_ERR_VERSION_MISMATCH}) << major;
  }
}

TEST(LinkHeader, RejectsSizeOutOfRange) {
  for (uint32_t size : {0u, 17u, kMaxLinkMessSize + 1, 0xffffffffu}) {
    uint32_t err = 0;
    EXPECT_FALSE(parse_link_header(header(2, 2, size), &err).ok()) << size;
    EXPECT_EQ(err, uint32_t{SPICE_LINK_ERR_INVALID_DATA}) << size;
  }
  EXPECT_TRUE(parse_link_header(header(2, 2, kMaxLinkMessSize), nullptr).ok());
}

TEST(LinkHeader, RejectsTruncated) {
  Bytes bytes = header(2, 2, 18);
  for (size_t n = 0; n < kLinkHeaderSize; ++n) {
    uint32_t err = 0;
    EXPECT_FALSE(parse_link_header(std::span(bytes).first(n), &err).ok()) << n;
  }
}

// ---- SpiceLinkMess ----

Bytes link_mess(uint32_t num_common, uint32_t num_channel, uint32_t caps_offset) {
  return cat({le32(0x12345678),  // connection_id
              b({2, 1}),         // channel_type DISPLAY, channel_id 1
              le32(num_common), le32(num_channel), le32(caps_offset)});
}

TEST(LinkMess, ParsesCaps) {
  Bytes body = cat({link_mess(1, 2, 18), le32(0x0b), le32(0x21), le32(0x80000000)});
  auto m = parse_link_mess(body);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->connection_id, 0x12345678u);
  EXPECT_EQ(m->channel_type, SPICE_CHANNEL_DISPLAY);
  EXPECT_EQ(m->channel_id, 1);
  EXPECT_EQ(m->common_caps.words, (std::vector<uint32_t>{0x0b}));
  EXPECT_EQ(m->channel_caps.words, (std::vector<uint32_t>{0x21, 0x80000000}));
  EXPECT_TRUE(m->common_caps.has(SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION));
  EXPECT_TRUE(m->common_caps.has(SPICE_COMMON_CAP_AUTH_SPICE));
  EXPECT_FALSE(m->common_caps.has(SPICE_COMMON_CAP_AUTH_SASL));
  EXPECT_TRUE(m->common_caps.has(SPICE_COMMON_CAP_MINI_HEADER));
  EXPECT_TRUE(m->channel_caps.has(63));
}

TEST(LinkMess, CapsMayStartAfterAGap) {
  Bytes body = cat({link_mess(1, 0, 22), le32(0xdeadbeef), le32(0x4)});
  auto m = parse_link_mess(body);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->common_caps.words, (std::vector<uint32_t>{0x4}));
  EXPECT_TRUE(m->channel_caps.words.empty());
}

TEST(LinkMess, NoCapsIgnoresOffset) {
  // As the reference server does: with no caps the offset is never dereferenced.
  auto m = parse_link_mess(link_mess(0, 0, 0xffffffff));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->common_caps.words.empty());
  EXPECT_TRUE(m->channel_caps.words.empty());
}

TEST(LinkMess, RejectsTruncated) {
  Bytes body = link_mess(0, 0, 18);
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(parse_link_mess(std::span(body).first(n)).ok()) << n;
  }
}

TEST(LinkMess, RejectsCapsOutsideBody) {
  // One common cap announced, none present.
  EXPECT_FALSE(parse_link_mess(link_mess(1, 0, 18)).ok());
  // Caps present but the counts claim one more word.
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1, 1, 18), le32(1)})).ok());
  // Offset pointing past the end.
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1, 0, 30), le32(1)})).ok());
  // Offset such that offset + 4 wraps a u32 to a small number.
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1, 0, 0xfffffffe), le32(1)})).ok());
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1, 0, 0xffffffff), le32(1)})).ok());
}

TEST(LinkMess, RejectsCapsOverlappingFixedPart) {
  Bytes body = cat({link_mess(1, 0, 14), le32(1)});
  EXPECT_FALSE(parse_link_mess(body).ok());
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1, 0, 0), le32(1)})).ok());
}

TEST(LinkMess, RejectsOverflowingCounts) {
  Bytes pad(64, 0);
  // count * 4 wraps to 0 in 32-bit arithmetic.
  EXPECT_FALSE(parse_link_mess(cat({link_mess(0x40000000, 0, 18), pad})).ok());
  EXPECT_FALSE(parse_link_mess(cat({link_mess(0, 0x40000000, 18), pad})).ok());
  // The sum wraps.
  EXPECT_FALSE(parse_link_mess(cat({link_mess(0xffffffff, 1, 18), pad})).ok());
  EXPECT_FALSE(parse_link_mess(cat({link_mess(0x80000000, 0x80000000, 18), pad})).ok());
  // Beyond the 1024-word limit even though the body could hold it.
  Bytes big(kMaxLinkMessSize - 18, 0);
  EXPECT_FALSE(parse_link_mess(cat({link_mess(1025, 0, 18), big})).ok());
}

TEST(LinkMess, RejectsOversizedBody) {
  Bytes body = cat({link_mess(0, 0, 18), Bytes(kMaxLinkMessSize, 0)});
  EXPECT_FALSE(parse_link_mess(body).ok());
}

// ---- reply ----

TEST(LinkReply, LayoutWithoutKey) {
  Caps common;
  common.set(SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
  common.set(SPICE_COMMON_CAP_AUTH_SPICE);
  common.set(SPICE_COMMON_CAP_MINI_HEADER);
  Caps channel;
  channel.set(0);
  channel.set(63);
  Bytes got = build_link_reply(SPICE_LINK_ERR_OK, {}, common, channel);
  Bytes expected = cat({
      b({'R', 'E', 'D', 'Q'}),          // magic
      b({0x02, 0x00, 0x00, 0x00}),      // major 2
      b({0x02, 0x00, 0x00, 0x00}),      // minor 2
      b({0xbe, 0x00, 0x00, 0x00}),      // size 190 = 178 + 3 caps words * 4
      b({0x00, 0x00, 0x00, 0x00}),      // error OK
      Bytes(162, 0),                    // pub_key: zeros when none is given
      b({0x01, 0x00, 0x00, 0x00}),      // num_common_caps 1
      b({0x02, 0x00, 0x00, 0x00}),      // num_channel_caps 2
      b({0xb2, 0x00, 0x00, 0x00}),      // caps_offset 178, from the SpiceLinkReply start
      b({0x0b, 0x00, 0x00, 0x00}),      // common caps: bits 0, 1, 3
      b({0x01, 0x00, 0x00, 0x00}),      // channel caps word 0: bit 0
      b({0x00, 0x00, 0x00, 0x80}),      // channel caps word 1: bit 63
  });
  EXPECT_EQ(got, expected);
}

TEST(LinkReply, KeyLandsAfterError) {
  Bytes key(162);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i + 1);
  Bytes got = build_link_reply(SPICE_LINK_ERR_OK, key, Caps{}, Caps{});
  Bytes expected = cat({
      b({'R', 'E', 'D', 'Q'}),      // magic
      b({0x02, 0x00, 0x00, 0x00}),  // major
      b({0x02, 0x00, 0x00, 0x00}),  // minor
      b({0xb2, 0x00, 0x00, 0x00}),  // size 178: no caps
      b({0x00, 0x00, 0x00, 0x00}),  // error
      key,                          // pub_key[162]
      b({0x00, 0x00, 0x00, 0x00}),  // num_common_caps 0
      b({0x00, 0x00, 0x00, 0x00}),  // num_channel_caps 0
      b({0xb2, 0x00, 0x00, 0x00}),  // caps_offset 178
  });
  EXPECT_EQ(got, expected);
}

TEST(LinkReply, ErrorReply) {
  Bytes got = build_link_reply(SPICE_LINK_ERR_VERSION_MISMATCH, {}, Caps{}, Caps{});
  ASSERT_EQ(got.size(), 16u + 178u);
  EXPECT_EQ(Bytes(got.begin() + 16, got.begin() + 20), b({0x04, 0x00, 0x00, 0x00}));
}

TEST(LinkResult, IsOneLittleEndianWord) {
  EXPECT_EQ(build_link_result(SPICE_LINK_ERR_OK), b({0, 0, 0, 0}));
  EXPECT_EQ(build_link_result(SPICE_LINK_ERR_PERMISSION_DENIED), b({7, 0, 0, 0}));
}

TEST(Caps, SetAndHas) {
  Caps c;
  EXPECT_FALSE(c.has(0));
  EXPECT_FALSE(c.has(1000));
  c.set(33);
  EXPECT_EQ(c.words, (std::vector<uint32_t>{0, 2}));
  EXPECT_TRUE(c.has(33));
  EXPECT_FALSE(c.has(32));
  EXPECT_FALSE(c.has(64));
  c.set(0);
  EXPECT_EQ(c.words, (std::vector<uint32_t>{1, 2}));
}

// ---- ticket ----

class Ticket : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto k = TicketKey::generate();
    ASSERT_TRUE(k.ok()) << k.error().message;
    key_ = new TicketKey(std::move(k.value()));
  }
  static void TearDownTestSuite() {
    delete key_;
    key_ = nullptr;
  }
  static TicketKey* key_;
};
TicketKey* Ticket::key_ = nullptr;

TEST_F(Ticket, PublicKeyIsSpkiDerOf162Bytes) {
  const auto& der = key_->public_der();
  ASSERT_EQ(der.size(), size_t{SPICE_TICKET_PUBKEY_BYTES});
  // SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { SEQUENCE { INTEGER n (129
  // bytes with the leading 0), INTEGER e } } }
  Bytes prefix = b({0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                    0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x81, 0x8d, 0x00, 0x30, 0x81,
                    0x89, 0x02, 0x81, 0x81, 0x00});
  EXPECT_EQ(Bytes(der.begin(), der.begin() + prefix.size()), prefix);
  // e = 65537
  EXPECT_EQ(Bytes(der.end() - 5, der.end()), b({0x02, 0x03, 0x01, 0x00, 0x01}));
}

TEST_F(Ticket, RoundTrip) {
  auto enc = TicketKey::encrypt_for(key_->public_der(), "s3cret");
  ASSERT_TRUE(enc.ok()) << enc.error().message;
  EXPECT_EQ(enc->size(), kEncryptedTicketSize);
  auto dec = key_->decrypt(*enc);
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  EXPECT_EQ(*dec, "s3cret");
}

TEST_F(Ticket, EmptyAndMaximumPasswords) {
  for (std::string pw : {std::string(), std::string(SPICE_MAX_PASSWORD_LENGTH, 'x'),
                         std::string(85, 'y')}) {  // 85 + NUL = 86, OAEP-SHA1's limit
    auto enc = TicketKey::encrypt_for(key_->public_der(), pw);
    ASSERT_TRUE(enc.ok()) << pw.size() << ": " << enc.error().message;
    auto dec = key_->decrypt(*enc);
    ASSERT_TRUE(dec.ok()) << dec.error().message;
    EXPECT_EQ(*dec, pw);
  }
  EXPECT_FALSE(TicketKey::encrypt_for(key_->public_der(), std::string(86, 'z')).ok());
}

TEST_F(Ticket, TamperedOrMisSizedCiphertextFails) {
  auto enc = TicketKey::encrypt_for(key_->public_der(), "pw");
  ASSERT_TRUE(enc.ok());
  Bytes bad = *enc;
  bad[40] ^= 0x01;
  EXPECT_FALSE(key_->decrypt(bad).ok());
  EXPECT_FALSE(key_->decrypt(std::span(*enc).first(127)).ok());
  Bytes longer = *enc;
  longer.push_back(0);
  EXPECT_FALSE(key_->decrypt(longer).ok());
  EXPECT_FALSE(key_->decrypt(Bytes(128, 0)).ok());
}

TEST_F(Ticket, OtherKeyCannotDecrypt) {
  auto other = TicketKey::generate();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->public_der(), key_->public_der());
  auto enc = TicketKey::encrypt_for(other->public_der(), "pw");
  ASSERT_TRUE(enc.ok());
  EXPECT_FALSE(key_->decrypt(*enc).ok());
  auto dec = other->decrypt(*enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, "pw");
}

TEST_F(Ticket, KeyIsMovable) {
  auto k = TicketKey::generate();
  ASSERT_TRUE(k.ok());
  TicketKey moved(std::move(k.value()));
  auto enc = TicketKey::encrypt_for(moved.public_der(), "abc");
  ASSERT_TRUE(enc.ok());
  auto dec = moved.decrypt(*enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, "abc");
}

TEST(TicketKeyEncrypt, RejectsGarbageKey) {
  EXPECT_FALSE(TicketKey::encrypt_for(Bytes(162, 0), "pw").ok());
  EXPECT_FALSE(TicketKey::encrypt_for({}, "pw").ok());
}

// ---- policy ----

TEST(TicketPolicy, PasswordMatch) {
  TicketPolicy p;
  p.password = "hunter2";
  EXPECT_TRUE(p.accepts("hunter2"));
  EXPECT_FALSE(p.accepts("hunter3"));
  EXPECT_FALSE(p.accepts("hunter"));    // prefix
  EXPECT_FALSE(p.accepts("hunter22"));  // extension
  EXPECT_FALSE(p.accepts(""));
}

TEST(TicketPolicy, EmptyPasswordRefusesEveryone) {
  TicketPolicy p;
  EXPECT_FALSE(p.accepts(""));
  EXPECT_FALSE(p.accepts("x"));
}

TEST(TicketPolicy, DisabledAcceptsAnything) {
  TicketPolicy p;
  p.disabled = true;
  EXPECT_TRUE(p.accepts(""));
  EXPECT_TRUE(p.accepts("whatever"));
}

TEST(TicketPolicy, Expiry) {
  using namespace std::chrono_literals;
  const auto t0 = std::chrono::system_clock::time_point{} + 1000000s;
  TicketPolicy p;
  p.password = "pw";
  p.expires = t0;
  EXPECT_TRUE(p.accepts("pw", t0 - 1s));
  EXPECT_TRUE(p.accepts("pw", t0));  // refused only once past the instant
  EXPECT_FALSE(p.accepts("pw", t0 + 1s));
  EXPECT_FALSE(p.accepts("nope", t0 - 1s));
  p.expires.reset();
  EXPECT_TRUE(p.accepts("pw", t0 + 1000000s));
}

}  // namespace
}  // namespace spiceflow::net
