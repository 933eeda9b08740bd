// ConnPool (see conn_pool.h): per size, a list of 64 KiB slabs with free
// blocks; each slab starts with its header and keeps its own free list.
#include "sync/conn_pool.h"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <vector>
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

// The slabs' address range: reserved once (no memory), so owns() is one comparison. 64 GiB: a million slabs.
constexpr std::size_t kReserve = std::size_t{64} << 30;
struct Range {
  std::uintptr_t base = 0;
  std::mutex mu;
  std::size_t next = 0;              // slabs carved so far
  std::vector<std::uintptr_t> free;  // slabs given back, to map again
};
std::atomic<std::uintptr_t> g_base{0};
thread_local int t_scopes = 0;

Range& range() {
  static Range r;
  static const bool reserved = [] {
    constexpr std::size_t n = ConnPool::kSlabBytes;
    void* raw = mmap(nullptr, kReserve + n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    // An address-space limit (ulimit -v) may refuse the reservation: then every block is the heap's.
    if (raw == MAP_FAILED) return false;
    r.base = (reinterpret_cast<std::uintptr_t>(raw) + n - 1) & ~(n - 1);  // slabs aligned to their size
    g_base.store(r.base, std::memory_order_release);
    return true;
  }();
  (void)reserved;
  return r;
}

// The pool's own allocations (its lists) are the heap's, whatever Scope is open.
struct Unrouted {
  int saved = std::exchange(t_scopes, 0);
  ~Unrouted() { t_scopes = saved; }
};

Slab* map_slab(Class& c) {
  Range& r = range();
  std::uintptr_t at;
  {
    std::lock_guard lock(r.mu);
    if (!r.free.empty()) {
      at = r.free.back();
      r.free.pop_back();
    } else {
      if ((r.next + 1) * ConnPool::kSlabBytes > kReserve) throw std::bad_alloc();
      at = r.base + r.next++ * ConnPool::kSlabBytes;
    }
  }
  if (mprotect(reinterpret_cast<void*>(at), ConnPool::kSlabBytes, PROT_READ | PROT_WRITE) != 0) throw std::bad_alloc();
  ++c.slabs;
  return new (reinterpret_cast<void*>(at)) Slab{.owner = &c};
}

// Its pages go back to the kernel; its addresses stay reserved for the next slab.
void unmap_slab(Class& c, Slab* s) {
  --c.slabs;
  madvise(s, ConnPool::kSlabBytes, MADV_DONTNEED);
  mprotect(s, ConnPool::kSlabBytes, PROT_NONE);
  Range& r = range();
  std::lock_guard lock(r.mu);
  r.free.push_back(reinterpret_cast<std::uintptr_t>(s));
}

}  // namespace

void* ConnPool::allocate(std::size_t bytes) {
  Unrouted unrouted;  // from here ::operator new is the heap's (no recursion into the pool)
  if (!kPooled || bytes == 0 || bytes > kMaxBlock || range().base == 0) return ::operator new(bytes);
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

bool ConnPool::owns(const void* p) noexcept {
  auto base = g_base.load(std::memory_order_acquire);
  return base != 0 && reinterpret_cast<std::uintptr_t>(p) - base < kReserve;
}

ConnPool::Scope::Scope() noexcept { ++t_scopes; }
ConnPool::Scope::~Scope() { --t_scopes; }

void ConnPool::deallocate(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (!owns(p)) return ::operator delete(p);
  (void)bytes;
  Unrouted unrouted;
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

#if !BLOBSYNC_CONN_POOL_ASAN
// The replaceable global allocation functions (the array, nothrow and sized
// forms call these): malloc's, or a pool block inside a ConnPool::Scope.
void* operator new(std::size_t n) {
  using blobsync::sync::ConnPool;
  if (blobsync::sync::t_scopes > 0 && n > 0 && n <= ConnPool::kMaxBlock) return ConnPool::allocate(n);
  for (;;) {
    if (void* p = std::malloc(n ? n : 1)) return p;
    auto handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}
void operator delete(void* p) noexcept {
  using blobsync::sync::ConnPool;
  if (ConnPool::owns(p)) ConnPool::deallocate(p, 1);
  else std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { ::operator delete(p); }
#endif
