#pragma once
// Helpers for writing expected message bytes by hand in the marshalling tests.
#include <initializer_list>

#include "spiceflow/net/messages.hpp"

namespace spiceflow::net::msg::testing {

/// Bytes from literal values (each 0..255).
inline Bytes b(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

/// The concatenation of byte runs, one per field.
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace spiceflow::net::msg::testing
