#include "agent_relay.hpp"

#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

AgentPiece::~AgentPiece() { relay_.piece_done(); }

void AgentRelay::add(AgentEndpoint* ep) { endpoints_.insert(ep); }

void AgentRelay::remove(AgentEndpoint* ep) {
  if (endpoints_.erase(ep) == 0) return;
  // As the reference: when the last client is gone the agent is told, so it drops what it
  // held for that client (clipboard grabs, transfers).
  if (endpoints_.empty() && attached_ && hooks_.clients_gone) hooks_.clients_gone();
}

void AgentRelay::to_device(AgentChunk chunk) {
  if (hooks_.to_device) hooks_.to_device(std::move(chunk));
}

void AgentRelay::set_attached(bool attached) {
  if (attached == attached_) return;
  attached_ = attached;
  ++generation_;
  log::info("guest agent {}", attached ? "connected" : "disconnected");
  for (auto* ep : endpoints_) ep->agent_attached(attached);
}

void AgentRelay::send(std::vector<uint8_t> data, bool message_start) {
  // Destroyed (and its slot given back) once no main channel holds it any more: at once
  // when no client takes agent data, as the reference discards what no client receives.
  auto piece = std::make_shared<const AgentPiece>(*this, std::move(data), message_start);
  if (!attached_) return;
  for (auto* ep : endpoints_) ep->agent_output(piece);
}

void AgentRelay::consumed(uint32_t session, uint64_t generation) {
  for (auto* ep : endpoints_) {
    if (ep->agent_session() == session) ep->agent_consumed(generation);
  }
}

void AgentRelay::piece_done() {
  if (in_flight_.fetch_sub(1) >= Server::kAgentInFlight && hooks_.room) hooks_.room();
}

}  // namespace spiceflow::net
