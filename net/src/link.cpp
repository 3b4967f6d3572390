// The SPICE link stage: header/mess parsing, the reply, and the RSA ticket.
//
// Wire layouts (all little-endian, packed; see spice-protocol's protocol.h):
//   SpiceLinkHeader (16): magic u32 "REDQ", major u32, minor u32, size u32 (bytes that follow)
//   SpiceLinkMess   (18): connection_id u32, channel_type u8, channel_id u8,
//                         num_common_caps u32, num_channel_caps u32, caps_offset u32
//                         (caps_offset counts from the start of SpiceLinkMess)
//   SpiceLinkReply (178): error u32, pub_key[162], num_common_caps u32, num_channel_caps u32,
//                         caps_offset u32 (from the start of SpiceLinkReply), then the caps
#include "spiceflow/net/link.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <spice/protocol.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net {
namespace {

constexpr size_t kLinkMessFixedSize = 18;
constexpr size_t kLinkReplyFixedSize = 4 + SPICE_TICKET_PUBKEY_BYTES + 4 + 4 + 4;
static_assert(kLinkHeaderSize == sizeof(SpiceLinkHeader));
static_assert(kLinkMessFixedSize == sizeof(SpiceLinkMess));
static_assert(kLinkReplyFixedSize == sizeof(SpiceLinkReply));
static_assert(kEncryptedTicketSize == sizeof(SpiceLinkEncryptedTicket));

// The magic is the four ASCII bytes "REDQ"; SPICE_MAGIC is that same value read as a
// little-endian u32, so comparing the decoded u32 matches byte order on the wire.
constexpr uint32_t kMagic = SPICE_MAGIC;

// The reference server refuses more than 1024 words per set; we do the same so a client
// cannot make us allocate for caps we will never read.
constexpr uint32_t kMaxCapsWords = 1024;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BignumDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

// Drains OpenSSL's thread-local error queue into one message, so a failure here does not
// leave stale errors for the next, unrelated OpenSSL call on this thread.
Error openssl_error(const char* what) {
  std::string msg = what;
  unsigned long code = 0;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return make_error(std::move(msg));
}

void set_link_error(uint32_t* out, uint32_t code) {
  if (out != nullptr) *out = code;
}

Result<std::vector<uint8_t>> public_key_der(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return openssl_error("i2d_PUBKEY");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_PUBKEY(key, &p) != len) return openssl_error("i2d_PUBKEY");
  return der;
}

}  // namespace

// ---- Caps ----

bool Caps::has(uint32_t bit) const {
  const size_t word = bit / 32;
  return word < words.size() && (words[word] & (1u << (bit % 32))) != 0;
}

void Caps::set(uint32_t bit) {
  const size_t word = bit / 32;
  if (words.size() <= word) words.resize(word + 1, 0);
  words[word] |= 1u << (bit % 32);
}

// ---- link header / mess ----

Result<LinkHeader> parse_link_header(std::span<const uint8_t> bytes, uint32_t* link_error) {
  if (bytes.size() < kLinkHeaderSize) {
    set_link_error(link_error, SPICE_LINK_ERR_INVALID_DATA);
    return make_error("link header truncated");
  }
  ByteReader r(bytes);
  const uint32_t magic = r.u32();
  LinkHeader h;
  h.major = r.u32();
  h.minor = r.u32();
  h.size = r.u32();
  if (magic != kMagic) {
    // Not a SPICE peer (perhaps HTTP or TLS on the wrong port): the caller may close
    // without a reply. We still report the code the reference server would use.
    set_link_error(link_error, SPICE_LINK_ERR_INVALID_MAGIC);
    return make_error("bad link magic");
  }
  if (h.major != SPICE_VERSION_MAJOR) {
    set_link_error(link_error, SPICE_LINK_ERR_VERSION_MISMATCH);
    return make_error("unsupported SPICE major version " + std::to_string(h.major));
  }
  // Minor versions are compatible within a major version, so any minor is accepted.
  if (h.size < kLinkMessFixedSize || h.size > kMaxLinkMessSize) {
    set_link_error(link_error, SPICE_LINK_ERR_INVALID_DATA);
    return make_error("link message size " + std::to_string(h.size) + " out of range");
  }
  set_link_error(link_error, SPICE_LINK_ERR_OK);
  return h;
}

Result<LinkMess> parse_link_mess(std::span<const uint8_t> body) {
  if (body.size() < kLinkMessFixedSize) return make_error("link message truncated");
  if (body.size() > kMaxLinkMessSize) return make_error("link message too large");
  ByteReader r(body);
  LinkMess m;
  m.connection_id = r.u32();
  m.channel_type = r.u8();
  m.channel_id = r.u8();
  const uint32_t num_common = r.u32();
  const uint32_t num_channel = r.u32();
  const uint32_t caps_offset = r.u32();
  if (num_common > kMaxCapsWords || num_channel > kMaxCapsWords) {
    return make_error("link message has too many caps");
  }
  // 64-bit arithmetic: offset + (count * 4) cannot wrap with both inputs below 2^32.
  const uint64_t caps_bytes = (uint64_t{num_common} + num_channel) * 4;
  if (caps_bytes != 0) {
    if (caps_offset < kLinkMessFixedSize) return make_error("link caps overlap the header");
    if (uint64_t{caps_offset} + caps_bytes > body.size()) {
      return make_error("link caps lie outside the message");
    }
    ByteReader caps(body.subspan(caps_offset));
    m.common_caps.words.resize(num_common);
    for (auto& w : m.common_caps.words) w = caps.u32();
    m.channel_caps.words.resize(num_channel);
    for (auto& w : m.channel_caps.words) w = caps.u32();
  }
  return m;
}

std::vector<uint8_t> build_link_reply(uint32_t error, std::span<const uint8_t> pub_key_der,
                                      const Caps& common_caps, const Caps& channel_caps) {
  assert(pub_key_der.empty() || pub_key_der.size() == SPICE_TICKET_PUBKEY_BYTES);
  const size_t caps_bytes = (common_caps.words.size() + channel_caps.words.size()) * 4;
  std::vector<uint8_t> out;
  out.reserve(kLinkHeaderSize + kLinkReplyFixedSize + caps_bytes);
  ByteWriter w(out);
  // SpiceLinkHeader; size counts everything after the header.
  w.u32(kMagic);
  w.u32(SPICE_VERSION_MAJOR);
  w.u32(SPICE_VERSION_MINOR);
  w.u32(static_cast<uint32_t>(kLinkReplyFixedSize + caps_bytes));
  // SpiceLinkReply
  w.u32(error);
  if (pub_key_der.size() == SPICE_TICKET_PUBKEY_BYTES) {
    w.bytes(pub_key_der);
  } else {
    w.zeros(SPICE_TICKET_PUBKEY_BYTES);
  }
  w.u32(static_cast<uint32_t>(common_caps.words.size()));
  w.u32(static_cast<uint32_t>(channel_caps.words.size()));
  // spice-gtk reads the caps at reply start + caps_offset, i.e. right after the fixed part.
  w.u32(static_cast<uint32_t>(kLinkReplyFixedSize));
  for (uint32_t word : common_caps.words) w.u32(word);
  for (uint32_t word : channel_caps.words) w.u32(word);
  return out;
}

std::vector<uint8_t> build_link_result(uint32_t error) {
  std::vector<uint8_t> out;
  ByteWriter(out).u32(error);
  return out;
}

// ---- TicketKey ----

struct TicketKey::Impl {
  PkeyPtr key;
  std::vector<uint8_t> der;
};

TicketKey::TicketKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TicketKey::TicketKey(TicketKey&&) noexcept = default;
TicketKey& TicketKey::operator=(TicketKey&&) noexcept = default;
TicketKey::~TicketKey() = default;

Result<TicketKey> TicketKey::generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) return openssl_error("RSA keygen init");
  if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), SPICE_TICKET_KEY_PAIR_LENGTH) <= 0) {
    return openssl_error("RSA keygen bits");
  }
  // 65537 is OpenSSL's default too; set it so a changed default cannot alter the key.
  BignumPtr e(BN_new());
  if (!e || BN_set_word(e.get(), RSA_F4) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) <= 0) {
    return openssl_error("RSA keygen exponent");
  }
  EVP_PKEY* raw = nullptr;
  // Fails under a FIPS provider that forbids 1024-bit RSA; the caller reports it.
  if (EVP_PKEY_generate(ctx.get(), &raw) <= 0) return openssl_error("RSA keygen");
  auto impl = std::make_unique<Impl>();
  impl->key.reset(raw);
  auto der = public_key_der(impl->key.get());
  if (!der) return der.error();
  if (der->size() != SPICE_TICKET_PUBKEY_BYTES) {
    return make_error("RSA public key DER is " + std::to_string(der->size()) +
                      " bytes, expected " + std::to_string(SPICE_TICKET_PUBKEY_BYTES));
  }
  impl->der = std::move(der.value());
  return TicketKey(std::move(impl));
}

const std::vector<uint8_t>& TicketKey::public_der() const { return impl_->der; }

Result<std::string> TicketKey::decrypt(std::span<const uint8_t> encrypted) const {
  if (encrypted.size() != kEncryptedTicketSize) {
    return make_error("encrypted ticket has wrong size");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->key.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0) return openssl_error("RSA decrypt init");
  // spice-gtk encrypts with RSA_PKCS1_OAEP_PADDING, whose digest and MGF1 are SHA-1.
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0) {
    return openssl_error("RSA OAEP setup");
  }
  unsigned char plain[kEncryptedTicketSize];
  size_t len = sizeof(plain);
  if (EVP_PKEY_decrypt(ctx.get(), plain, &len, encrypted.data(), encrypted.size()) <= 0) {
    OPENSSL_cleanse(plain, sizeof(plain));
    return openssl_error("RSA decrypt");
  }
  // The client sends the password with its NUL; stop at the first NUL either way.
  const auto* end = std::find(plain, plain + len, uint8_t{0});
  std::string password(reinterpret_cast<const char*>(plain), static_cast<size_t>(end - plain));
  OPENSSL_cleanse(plain, sizeof(plain));
  return password;
}

Result<std::vector<uint8_t>> TicketKey::encrypt_for(std::span<const uint8_t> public_der,
                                                    const std::string& password) {
  const unsigned char* p = public_der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(public_der.size())));
  if (!key) return openssl_error("d2i_PUBKEY");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return make_error("public key is not RSA");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0) return openssl_error("RSA encrypt init");
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0) {
    return openssl_error("RSA OAEP setup");
  }
  // Include the NUL, as spice-gtk does (strlen + 1).
  const auto* in = reinterpret_cast<const unsigned char*>(password.c_str());
  const size_t in_len = password.size() + 1;
  size_t out_len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, in, in_len) <= 0) {
    return openssl_error("RSA encrypt size");
  }
  std::vector<uint8_t> out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, in, in_len) <= 0) {
    return openssl_error("RSA encrypt (password too long?)");
  }
  out.resize(out_len);
  return out;
}

// ---- TicketPolicy ----

bool TicketPolicy::accepts(const std::string& given,
                           std::chrono::system_clock::time_point now) const {
  if (disabled) return true;
  // Ticketing on with no password set refuses everyone, as the reference server does.
  if (password.empty()) return false;
  if (expires && now > *expires) return false;
  // Compare equal-length buffers with CRYPTO_memcmp so the time taken does not depend on
  // where the first difference lies; a length mismatch is folded in without a branch on
  // the contents. Only the lengths' maximum shows in the timing.
  const size_t n = std::max(password.size(), given.size());
  std::string a(n, '\0');
  std::string b(n, '\0');
  std::memcpy(a.data(), password.data(), password.size());
  std::memcpy(b.data(), given.data(), given.size());
  const int diff = CRYPTO_memcmp(a.data(), b.data(), n);
  const bool same_length = password.size() == given.size();
  OPENSSL_cleanse(a.data(), n);
  OPENSSL_cleanse(b.data(), n);
  return (diff == 0) & same_length;
}

}  // namespace spiceflow::net
