#pragma once
/// TLS for SPICE connections (OpenSSL): the server's certificate and key, loaded once, and
/// the options that name them. A SPICE client reaches the TLS port with a TLS handshake
/// first and then the usual link stage (the ticket is still RSA-encrypted inside), as the
/// reference's tls-port. Names follow QEMU's -spice x509-* options.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "spiceflow/core/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace spiceflow::net {

struct TlsOptions {
  uint16_t port = 0;         ///< desktop i listens with TLS on port + i; 0 = no TLS port
  std::string cert_file;     ///< PEM server certificate (chain)
  std::string key_file;      ///< PEM private key of that certificate
  std::string key_password;  ///< for an encrypted key; empty = none
  std::string ca_file;       ///< PEM CA certificates (only checked for readability)
  std::string ciphers;       ///< OpenSSL cipher list for TLS <= 1.2; empty = OpenSSL's default
  std::string dh_file;       ///< PEM DH parameters; empty = OpenSSL's automatic choice
  /// Channel types (SPICE_CHANNEL_*, bit 1 << type) that must come over TLS: a plain-text
  /// link to one gets SPICE_LINK_ERR_NEED_SECURED and the client retries on the TLS port
  /// (QEMU's tls-channel, spice_server_set_channel_security). 0 = every channel may be plain.
  uint32_t secure_channels = 0;
  static constexpr uint32_t kAllChannels = 0xffffffffu;
  bool requires_tls(uint8_t channel_type) const {
    return channel_type < 32 && (secure_channels >> channel_type) & 1u;
  }

  bool enabled() const { return port != 0; }
  /// Fills the three file names from a directory as QEMU's x509-dir does (ca-cert.pem,
  /// server-cert.pem, server-key.pem), leaving names already set untouched.
  void use_dir(const std::string& dir);
};

/// An SSL_CTX for server connections (TLS 1.2 or newer). Thread-safe once created.
class TlsContext {
 public:
  /// Loads and checks the certificate and key (errors name the file and OpenSSL's reason).
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& opts);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// A new server-side session on accepted socket `fd` (which it does not close), in
  /// accept state; null with OpenSSL's error queued on failure. The caller owns it (SSL_free).
  SSL* new_session(int fd) const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

/// The TlsOptions::secure_channels bit of a channel name as QEMU and the reference spell
/// them (main, display, inputs, cursor, playback, record, smartcard, usbredir, port,
/// webdav); "default" means every channel. An unknown name is an error.
Result<uint32_t> secure_channel_bits(std::string_view name);

/// OpenSSL's queued error reasons as one line (clears the queue).
std::string tls_error_string();

}  // namespace spiceflow::net
