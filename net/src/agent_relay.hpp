#pragma once
// The loop thread's side of the guest agent: whether the host's agent device is attached,
// the main channels that talk to it, and the agent output on its way to them.
//
// Threading: everything runs on the server's loop thread (Server posts the host's calls
// here) except reserve(), which the host calls from its own thread to count a piece of
// agent output in before posting it. The in-flight count bounds what the host may read
// from the device ahead of the clients' sockets: a piece counts until every main channel
// it was handed to has written it to its socket (or dropped it).
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "spiceflow/net/agent.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::net {

class AgentRelay;

/// A piece of agent output (≤ agent::kMaxData bytes). Shared by the main channels that
/// queue it; the last one to let go gives its in-flight slot back.
class AgentPiece {
 public:
  AgentPiece(AgentRelay& relay, std::vector<uint8_t> data, bool message_start)
      : relay_(relay), data_(std::move(data)), message_start_(message_start) {}
  ~AgentPiece();
  AgentPiece(const AgentPiece&) = delete;
  AgentPiece& operator=(const AgentPiece&) = delete;
  const std::vector<uint8_t>& data() const { return data_; }
  bool message_start() const { return message_start_; }

 private:
  AgentRelay& relay_;
  std::vector<uint8_t> data_;
  bool message_start_;
};

/// What the relay needs from a main channel.
class AgentEndpoint {
 public:
  virtual ~AgentEndpoint() = default;
  /// The agent device appeared or went away (AGENT_CONNECTED[_TOKENS] / DISCONNECTED).
  virtual void agent_attached(bool attached) = 0;
  /// A piece of agent output for this client (queued while it has no send tokens).
  virtual void agent_output(const std::shared_ptr<const AgentPiece>& piece) = 0;
  /// One of this session's chunks left the server (its token may go back).
  virtual void agent_consumed(uint64_t generation) = 0;
  virtual uint32_t agent_session() const = 0;
};

class AgentRelay {
 public:
  explicit AgentRelay(AgentHooks hooks) : hooks_(std::move(hooks)) {}

  /// The host wired an agent in (ServerOptions::agent): otherwise main channels ignore
  /// agent messages and never report an agent.
  bool enabled() const { return bool(hooks_.to_device); }
  bool attached() const { return attached_; }
  /// Changes with every attach and detach: chunks consumed for an older generation
  /// return no token (the client's window was reset in between).
  uint64_t generation() const { return generation_; }
  agent::FilterConfig filter() const { return filter_; }

  void add(AgentEndpoint* ep);
  void remove(AgentEndpoint* ep);
  /// A client's checked AGENT_DATA for the device.
  void to_device(AgentChunk chunk);
  /// A client sent AGENT_START.
  void started() {
    if (hooks_.started) hooks_.started();
  }

  // The host's calls, posted to the loop by Server.
  void set_attached(bool attached);
  void send(std::vector<uint8_t> data, bool message_start);
  void consumed(uint32_t session, uint64_t generation);
  void set_filter(agent::FilterConfig filter) { filter_ = filter; }
  /// The server is going away: no more hooks are called.
  void shutdown() { hooks_ = {}; }

  /// Any thread: counts one piece in. Returns false when kAgentInFlight are now in flight.
  bool reserve() { return in_flight_.fetch_add(1) + 1 < Server::kAgentInFlight; }
  /// Any thread: fewer than kAgentInFlight pieces are in flight.
  bool has_room() const { return in_flight_.load() < Server::kAgentInFlight; }
  /// A piece was written to every socket it was for (AgentPiece's destructor).
  void piece_done();

 private:
  AgentHooks hooks_;
  bool attached_ = false;
  uint64_t generation_ = 0;
  agent::FilterConfig filter_;
  std::unordered_set<AgentEndpoint*> endpoints_;
  std::atomic<size_t> in_flight_{0};
};

}  // namespace spiceflow::net
