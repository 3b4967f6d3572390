#include "spiceflow/net/guest_stream.hpp"

#include <spice/enums.h>

#include <algorithm>

namespace spiceflow::net {

void GuestStream::set_hooks(Hooks hooks) {
  std::lock_guard lock(mu_);
  hooks_ = std::move(hooks);
}

void GuestStream::set_notifier(std::function<void()> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
}

void GuestStream::append(Item item) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    if (item.kind == Item::format) {
      format_ = item.fmt;
    } else if (item.kind == Item::stop) {
      format_.reset();
    }
    // Nobody to read it: only the format is remembered (for clients that join later).
    if (readers_.empty()) return;
    item.seq = next_seq_++;
    items_.push_back(std::move(item));
    notify = notify_;
  }
  if (notify) notify();
}

void GuestStream::set_format(const Format& fmt) {
  Item item;
  item.kind = Item::format;
  item.fmt = fmt;
  append(std::move(item));
}

bool GuestStream::push_frame(std::vector<uint8_t> frame) {
  {
    std::lock_guard lock(mu_);
    if (!format_) return true;  // dropped: nothing queued for it
  }
  Item item;
  item.kind = Item::frame;
  item.data = std::make_shared<const std::vector<uint8_t>>(std::move(frame));
  append(std::move(item));
  return has_room();
}

void GuestStream::stop() {
  Item item;
  item.kind = Item::stop;
  append(std::move(item));
}

void GuestStream::set_cursor_shape(std::shared_ptr<const CursorShape> shape) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<engine::CursorState>(*cursor_);
    ++next->version;
    ++next->shape_version;
    next->shape = std::move(shape);
    next->visible = next->shape != nullptr;
    cursor_ = std::move(next);
    notify = notify_;
  }
  if (notify) notify();
}

void GuestStream::move_cursor(Point pos) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<engine::CursorState>(*cursor_);
    ++next->version;
    next->pos = pos;
    cursor_ = std::move(next);
    notify = notify_;
  }
  if (notify) notify();
}

std::shared_ptr<const engine::CursorState> GuestStream::cursor() const {
  std::lock_guard lock(mu_);
  return cursor_;
}

bool GuestStream::has_room() const {
  std::lock_guard lock(mu_);
  const bool room = !full_locked();
  if (!room) was_full_ = true;  // the host stops reading: Hooks::room when it may again
  return room;
}

size_t GuestStream::clients() const {
  std::lock_guard lock(mu_);
  return readers_.size();
}

// Frames (and their bytes) the slowest reader has not taken yet, against the bounds.
bool GuestStream::full_locked() const {
  uint64_t oldest = next_seq_;
  for (const auto& [id, r] : readers_) oldest = std::min(oldest, r.next);
  size_t frames = 0, bytes = 0;
  for (const auto& i : items_) {
    if (i.kind != Item::frame || i.seq < oldest) continue;
    ++frames;
    bytes += i.data->size();
  }
  return frames >= kMaxQueuedFrames || bytes >= kMaxQueuedBytes;
}

void GuestStream::trim_locked() {
  uint64_t oldest = next_seq_;
  for (const auto& [id, r] : readers_) oldest = std::min(oldest, r.next);
  std::erase_if(items_, [&](const Item& i) { return i.seq < oldest; });
}

std::vector<uint8_t> GuestStream::codecs_locked() const {
  if (readers_.empty()) return {};
  std::vector<uint8_t> common;
  for (uint8_t c = SPICE_VIDEO_CODEC_TYPE_MJPEG; c < SPICE_VIDEO_CODEC_TYPE_ENUM_END; ++c) {
    // Every client decodes MJPEG (the protocol's original codec), as the reference assumes.
    const bool all = c == SPICE_VIDEO_CODEC_TYPE_MJPEG ||
                     std::all_of(readers_.begin(), readers_.end(), [c](const auto& r) {
                       return std::find(r.second.codecs.begin(), r.second.codecs.end(), c) !=
                              r.second.codecs.end();
                     });
    if (all) common.push_back(c);
  }
  return common;
}

void GuestStream::fire_clients() {
  std::function<void(std::vector<uint8_t>)> hook;
  std::vector<uint8_t> codecs;
  {
    std::lock_guard lock(mu_);
    hook = hooks_.clients;
    codecs = codecs_locked();
  }
  if (hook) hook(std::move(codecs));
}

uint64_t GuestStream::join(std::vector<uint8_t> codecs, std::optional<Format>* current) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = next_reader_++;
    readers_[id] = Reader{next_seq_, std::move(codecs)};
    if (current) *current = format_;
  }
  // Sent on every join, even when the codec list is unchanged, as the reference: the agent
  // restarts its stream, so the newcomer gets a keyframe.
  fire_clients();
  return id;
}

void GuestStream::leave(uint64_t reader) {
  std::function<void()> room;
  {
    std::lock_guard lock(mu_);
    if (!readers_.erase(reader)) return;
    trim_locked();
    if (was_full_ && !full_locked()) {
      was_full_ = false;
      room = hooks_.room;
    }
  }
  fire_clients();
  if (room) room();
}

std::vector<GuestStream::Item> GuestStream::take(uint64_t reader, size_t max) {
  std::vector<Item> out;
  std::function<void()> room;
  {
    std::lock_guard lock(mu_);
    auto it = readers_.find(reader);
    if (it == readers_.end()) return out;
    for (const auto& item : items_) {
      if (out.size() >= max) break;
      if (item.seq < it->second.next) continue;
      out.push_back(item);
      it->second.next = item.seq + 1;
    }
    const bool full = full_locked();
    trim_locked();
    if (full) {
      was_full_ = true;
    } else if (was_full_) {
      was_full_ = false;
      room = hooks_.room;
    }
  }
  if (room) room();
  return out;
}

bool GuestStream::pending(uint64_t reader) const {
  std::lock_guard lock(mu_);
  auto it = readers_.find(reader);
  return it != readers_.end() && !items_.empty() && items_.back().seq >= it->second.next;
}

}  // namespace spiceflow::net
