#include "spiceflow/net/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <spice/enums.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace spiceflow::net {

void TlsOptions::use_dir(const std::string& dir) {
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  if (ca_file.empty()) ca_file = base + "ca-cert.pem";
  if (cert_file.empty()) cert_file = base + "server-cert.pem";
  if (key_file.empty()) key_file = base + "server-key.pem";
}

Result<uint32_t> secure_channel_bits(std::string_view name) {
  if (name == "default") return TlsOptions::kAllChannels;
  static constexpr std::pair<std::string_view, uint8_t> kChannels[] = {
      {"main", SPICE_CHANNEL_MAIN},         {"display", SPICE_CHANNEL_DISPLAY},
      {"inputs", SPICE_CHANNEL_INPUTS},     {"cursor", SPICE_CHANNEL_CURSOR},
      {"playback", SPICE_CHANNEL_PLAYBACK}, {"record", SPICE_CHANNEL_RECORD},
      {"smartcard", SPICE_CHANNEL_SMARTCARD}, {"usbredir", SPICE_CHANNEL_USBREDIR},
      {"port", SPICE_CHANNEL_PORT},         {"webdav", SPICE_CHANNEL_WEBDAV},
  };
  for (const auto& [n, type] : kChannels) {
    if (n == name) return uint32_t{1} << type;
  }
  return make_error("unknown channel name '" + std::string(name) + "'");
}

std::string tls_error_string() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s.empty() ? "unknown TLS error" : s;
}

namespace {

int password_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* pw = static_cast<const std::string*>(userdata);
  if (!pw || size <= 0) return 0;
  const int n = std::min(size, int(pw->size()));
  std::memcpy(buf, pw->data(), size_t(n));
  return n;
}

// A socket BIO that writes with MSG_NOSIGNAL: a client that vanishes mid-record must give
// EPIPE, not kill the host process with SIGPIPE (QEMU ignores it; not every host does).
int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(BIO_get_fd(b, nullptr), data, size_t(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  return int(n);
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(BIO_get_fd(b, nullptr), data, size_t(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(b);
  }
  return int(n);
}

// The method: the stock socket BIO's control functions with our read and write.
BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "spiceflow socket");
    const BIO_METHOD* base = BIO_s_socket();
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    return m;
  }();
  return method;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& opts) {
  if (opts.cert_file.empty() || opts.key_file.empty()) {
    return make_error("TLS needs a certificate and a private key (x509 cert and key files)");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return make_error("TLS: cannot create a context: " + tls_error_string());
  auto fail = [ctx](const std::string& what) {
    const std::string reason = tls_error_string();
    SSL_CTX_free(ctx);
    return make_error("TLS: " + what + ": " + reason);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Peer keeps a record's plaintext in its own buffer until SSL_write takes it whole.
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!opts.key_password.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx, password_callback);
    // The string outlives the calls below, the only ones that decrypt the key.
    SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&opts.key_password));
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, opts.cert_file.c_str()) != 1) {
    return fail("cannot load certificate " + opts.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load private key " + opts.key_file);
  }
  SSL_CTX_set_default_passwd_cb(ctx, nullptr);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("private key " + opts.key_file + " does not match " + opts.cert_file);
  }
  if (!opts.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr) != 1) {
    return fail("cannot load CA certificates " + opts.ca_file);
  }
  if (!opts.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, opts.ciphers.c_str()) != 1) {
    return fail("no usable cipher in '" + opts.ciphers + "'");
  }
  if (!opts.dh_file.empty()) {
    BIO* f = BIO_new_file(opts.dh_file.c_str(), "r");
    if (!f) return fail("cannot open DH parameters " + opts.dh_file);
    EVP_PKEY* dh = PEM_read_bio_Parameters(f, nullptr);
    BIO_free(f);
    if (!dh || SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
      EVP_PKEY_free(dh);
      return fail("cannot use DH parameters " + opts.dh_file);
    }
  } else {
    SSL_CTX_set_dh_auto(ctx, 1);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::new_session(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  BIO* bio = BIO_new(nosignal_socket_method());
  if (!bio) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, bio, bio);
  SSL_set_accept_state(ssl);
  return ssl;
}

}  // namespace spiceflow::net
