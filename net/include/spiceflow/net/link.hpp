#pragma once
/// The SPICE link stage (before any channel message): SpiceLinkHeader + SpiceLinkMess from
/// the client, SpiceLinkReply with a fresh RSA-1024 public key from the server, optional
/// auth-mechanism selection, the RSA-OAEP encrypted ticket and the final link result.
/// Layouts and enums follow spice-protocol's protocol.h and spice-common's spice.proto.
/// Pure functions plus an RAII key; no sockets here.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "spiceflow/core/result.hpp"

namespace spiceflow::net {

/// Size of SpiceLinkHeader on the wire (magic, major, minor, size).
inline constexpr size_t kLinkHeaderSize = 16;
/// The largest SpiceLinkMess body we accept (caps included); larger is a protocol error.
inline constexpr uint32_t kMaxLinkMessSize = 4096;
/// Size of the encrypted ticket (RSA-1024 block).
inline constexpr size_t kEncryptedTicketSize = 128;

/// A SPICE capability set: bit N of word N/32.
struct Caps {
  std::vector<uint32_t> words;
  bool has(uint32_t bit) const;
  void set(uint32_t bit);
};

struct LinkHeader {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t size = 0;
};

/// Validates a SpiceLinkHeader. On failure, `Error.message` names the problem and
/// `*link_error` gets the SPICE_LINK_ERR_* code to send back (BAD_MAGIC -> none is sent:
/// the peer is not speaking SPICE; VERSION_MISMATCH; INVALID_DATA for an oversized size).
Result<LinkHeader> parse_link_header(std::span<const uint8_t> bytes, uint32_t* link_error);

struct LinkMess {
  uint32_t connection_id = 0;
  uint8_t channel_type = 0;
  uint8_t channel_id = 0;
  Caps common_caps;
  Caps channel_caps;
};

/// Parses a SpiceLinkMess body (size from the header), checking that the caps lie inside it.
Result<LinkMess> parse_link_mess(std::span<const uint8_t> body);

/// Builds the whole server reply: SpiceLinkHeader + SpiceLinkReply (error, pub_key, caps).
/// `pub_key_der` must be SPICE_TICKET_PUBKEY_BYTES (162) long, or empty (zeros are sent,
/// as for an error reply).
std::vector<uint8_t> build_link_reply(uint32_t error, std::span<const uint8_t> pub_key_der,
                                      const Caps& common_caps, const Caps& channel_caps);

/// The u32 link result sent after the ticket (SPICE_LINK_ERR_*).
std::vector<uint8_t> build_link_result(uint32_t error);

/// A fresh RSA-1024 key pair (public exponent 65537) for one link. OpenSSL behind a pimpl.
class TicketKey {
 public:
  static Result<TicketKey> generate();
  TicketKey(TicketKey&&) noexcept;
  TicketKey& operator=(TicketKey&&) noexcept;
  ~TicketKey();

  /// X.509 SubjectPublicKeyInfo DER (162 bytes) as sent in SpiceLinkReply.pub_key.
  const std::vector<uint8_t>& public_der() const;
  /// Decrypts an RSA-OAEP (SHA-1) ticket; returns the password up to its first NUL.
  Result<std::string> decrypt(std::span<const uint8_t> encrypted) const;
  /// Encrypts `password` (plus its NUL) with a peer's DER public key, as a client does.
  /// Used by tests and the probe tool.
  static Result<std::vector<uint8_t>> encrypt_for(std::span<const uint8_t> public_der,
                                                  const std::string& password);

 private:
  struct Impl;
  explicit TicketKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The server's ticket policy: a password with an optional expiry, or ticketing disabled.
struct TicketPolicy {
  bool disabled = false;
  std::string password;
  /// Passwords past this instant are refused (nullopt = never expires).
  std::optional<std::chrono::system_clock::time_point> expires;
  /// True when `given` is accepted now (constant-time comparison).
  bool accepts(const std::string& given,
               std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
};

}  // namespace spiceflow::net
