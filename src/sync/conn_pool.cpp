// ConnPool (see conn_pool.h): per size, a list of 64 KiB slabs with free
// blocks; each slab starts with its header and keeps its own free list.
#include "sync/conn_pool.h"

#include <sys/mman.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <utility>

namespace blobsync::sync {

namespace {

constexpr std::size_t kAlign = 16;
constexpr std::size_t kClasses = ConnPool::kMaxBlock / kAlign;

struct Slab;
struct FreeBlock {
  FreeBlock* next;
};
struct Class;

struct Slab {
  Class* owner;
  FreeBlock* free = nullptr;
  std::size_t used = 0;
  std::size_t carved = 0;  // blocks handed out from the untouched tail so far (pages touched lazily)
  Slab* prev = nullptr;    // in the class's list of slabs with room
  Slab* next = nullptr;
  bool listed = false;
};
constexpr std::size_t kHeader = (sizeof(Slab) + kAlign - 1) / kAlign * kAlign;

struct Class {
  std::mutex mu;
  std::size_t block = 0;
  Slab* partial = nullptr;  // slabs with a free block
  Slab* spare = nullptr;    // one empty slab kept mapped
  std::size_t slabs = 0, blocks = 0;

  std::size_t capacity() const { return (ConnPool::kSlabBytes - kHeader) / block; }

  void link(Slab* s) {
    s->listed = true;
    s->prev = nullptr;
    s->next = partial;
    if (partial) partial->prev = s;
    partial = s;
  }
  void unlink(Slab* s) {
    s->listed = false;
    if (s->prev) s->prev->next = s->next;
    else partial = s->next;
    if (s->next) s->next->prev = s->prev;
  }
};

std::array<Class, kClasses>& classes() {
  static std::array<Class, kClasses> all;
  static const bool sized = [] {
    for (std::size_t i = 0; i < kClasses; ++i) all[i].block = (i + 1) * kAlign;
    return true;
  }();
  (void)sized;
  return all;
}

// A slab aligned to its size: twice the size mapped, the unaligned ends unmapped.
Slab* map_slab(Class& c) {
  constexpr std::size_t n = ConnPool::kSlabBytes;
  void* raw = mmap(nullptr, 2 * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (base + n - 1) & ~(n - 1);
  if (aligned > base) munmap(raw, aligned - base);
  if (aligned + n < base + 2 * n) munmap(reinterpret_cast<void*>(aligned + n), base + 2 * n - aligned - n);
  ++c.slabs;
  return new (reinterpret_cast<void*>(aligned)) Slab{.owner = &c};
}

void unmap_slab(Class& c, Slab* s) {
  --c.slabs;
  munmap(s, ConnPool::kSlabBytes);
}

}  // namespace

void* ConnPool::allocate(std::size_t bytes) {
  if (!kPooled || bytes == 0 || bytes > kMaxBlock) return ::operator new(bytes);
  Class& c = classes()[(bytes - 1) / kAlign];
  std::lock_guard lock(c.mu);
  Slab* s = c.partial;
  if (!s) {
    if (c.spare) s = std::exchange(c.spare, nullptr);
    else s = map_slab(c);
    c.link(s);
  }
  void* p;
  if (s->free) {
    p = s->free;
    s->free = s->free->next;
  } else {
    p = reinterpret_cast<char*>(s) + kHeader + s->carved * c.block;
    ++s->carved;
  }
  ++s->used;
  ++c.blocks;
  if (!s->free && s->carved == c.capacity()) c.unlink(s);
  return p;
}

void ConnPool::deallocate(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (!kPooled || bytes == 0 || bytes > kMaxBlock) return ::operator delete(p);
  auto* s = reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSlabBytes - 1));
  Class& c = *s->owner;
  std::lock_guard lock(c.mu);
  auto* b = static_cast<FreeBlock*>(p);
  b->next = s->free;
  s->free = b;
  --s->used;
  --c.blocks;
  if (s->used == 0) {
    if (s->listed) c.unlink(s);
    if (c.spare) {
      unmap_slab(c, s);
    } else {
      // Kept against churn, its pages given back: it starts again untouched.
      madvise(s, kSlabBytes, MADV_DONTNEED);
      new (s) Slab{.owner = &c};
      c.spare = s;
    }
  } else if (!s->listed) {
    c.link(s);
  }
}

ConnPool::Stats ConnPool::stats() {
  Stats st;
  for (auto& c : classes()) {
    std::lock_guard lock(c.mu);
    st.slabs += c.slabs;
    st.blocks += c.blocks;
  }
  return st;
}

}  // namespace blobsync::sync
