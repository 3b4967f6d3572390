#pragma once
/// The server's copy of one client's pixmap cache (SPICE_IMAGE_FLAGS_CACHE_ME,
/// SPICE_IMAGE_TYPE_FROM_CACHE / FROM_CACHE_LOSSLESS). A spice-gtk or spice-html5 client
/// stores every image sent with CACHE_ME under its descriptor id and frees one only when
/// the server says so (DISPLAY_INVAL_LIST, INVAL_ALL_PIXMAPS); a FROM_CACHE for an id it
/// does not hold makes spice-gtk wait forever. So the server decides everything: this
/// object keeps, per image the client holds, its content key, size and whether it was sent
/// lossy, evicts least recently used images to stay within the client's cache size
/// (DISPLAY_INIT's pixmap_cache_size, in pixels) and hands back the ids to invalidate.
///
/// Ids are `id_base + n` (n counting up): a caller picks a base no earlier user of the
/// client's cache can have used. Adding never reuses an id, so the client's per-id
/// reference count (spice-gtk counts repeated CACHE_MEs of one id) stays at one.
///
/// Threading: not thread-safe; one display channel (its event loop thread) owns one.
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "spiceflow/core/image.hpp"

namespace spiceflow::encode {

/// What identifies an image's content: its size and a 128-bit hash of its pixels (X
/// bytes ignored, as the client ignores them for xRGB).
struct ContentKey {
  uint64_t h0 = 0;
  uint64_t h1 = 0;
  int32_t width = 0;
  int32_t height = 0;
  bool operator==(const ContentKey&) const = default;
};

/// The content key of `img` (any stride).
ContentKey content_key(const ImageView& img);

class PixmapCache {
 public:
  /// The most images tracked whatever the size (least recently used go first): bounds our
  /// memory (~100 bytes an entry) against a client announcing a huge cache.
  static constexpr size_t kDefaultMaxEntries = 65536;
  /// `capacity_pixels`: the client's cache size; `id_base`: the first id to hand out.
  PixmapCache(int64_t capacity_pixels, uint64_t id_base,
              size_t max_entries = kDefaultMaxEntries);

  struct Entry {
    uint64_t id = 0;
    bool lossy = false;
  };
  /// The client's image with this content, made most recently used; nullopt if none.
  std::optional<Entry> find(const ContentKey& key);

  struct Added {
    uint64_t id = 0;                ///< send the image with CACHE_ME under this id
    std::vector<uint64_t> evicted;  ///< ids the client must drop (INVAL_LIST), oldest first
  };
  /// Records that the image `key` goes to the client with CACHE_ME. An entry with the same
  /// key (e.g. a lossy one being replaced by a lossless one) is evicted first. nullopt
  /// when the image alone is larger than the cache (send it without CACHE_ME).
  std::optional<Added> add(const ContentKey& key, bool lossy);

  /// Forgets everything (after the client was told INVAL_ALL_PIXMAPS); ids go on.
  void clear();

  int64_t capacity_pixels() const { return capacity_; }
  int64_t used_pixels() const { return used_; }
  size_t size() const { return lru_.size(); }

  struct Stats {
    uint64_t hits = 0;
    uint64_t hit_pixels = 0;
    uint64_t added = 0;
    uint64_t evicted = 0;
    uint64_t too_large = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Item {
    ContentKey key;
    uint64_t id;
    bool lossy;
  };
  struct KeyHash {
    size_t operator()(const ContentKey& k) const { return size_t(k.h0 ^ (k.h1 >> 1)); }
  };
  void evict_front(std::vector<uint64_t>* out);
  void erase(std::list<Item>::iterator it);

  int64_t capacity_;
  size_t max_entries_;
  uint64_t next_id_;
  int64_t used_ = 0;
  std::list<Item> lru_;  // least recently used first
  std::unordered_map<ContentKey, std::list<Item>::iterator, KeyHash> index_;
  Stats stats_;
};

}  // namespace spiceflow::encode
