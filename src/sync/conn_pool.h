// ConnPool and ConnAllocator: memory for the objects an open connection keeps
// for its whole life (its WsSession, its Wire, its registry entry), apart from
// the heap. A connection allocates far more for a short while (the HTTP read
// buffer, Beast's stream state of ~2.4 KiB, coroutine frames) than it keeps;
// from one heap, the objects kept end up between the holes those leave, every
// page keeps something live and an idle crowd costs what it cost at its peak.
// Here objects of one size share 64 KiB slabs mapped from the kernel: the
// objects a connection keeps (ConnAllocator) and Beast's stream state, which a
// dormant connection drops (ConnPool::Scope routes ::operator new here while
// it is made). So the heap's holes merge into whole free pages (malloc_trim
// gives them back) and a slab whose blocks are all free goes back to the
// kernel (one spare per size is kept against churn). With 10,000 idle
// connections all awake at once before they went dormant, 5.0 KB of RSS each
// became 3.4 KB (docs/performance.md).
//
//   - Sizes are rounded up to 16 bytes; a size above kMaxBlock (or a count
//     above 1) goes to ::operator new, so a container may use the allocator.
//   - A slab is aligned to its size: free() finds its slab from the pointer.
//   - Under AddressSanitizer (kPooled false) every block is the heap's.
//
// Thread safety: allocate() and deallocate() may be called from any thread
// (one mutex per size); stats() likewise. A Scope is its own thread's.
#pragma once

#include <cstddef>
#include <new>

// GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define BLOBSYNC_CONN_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLOBSYNC_CONN_POOL_ASAN 1
#endif
#endif
#ifndef BLOBSYNC_CONN_POOL_ASAN
#define BLOBSYNC_CONN_POOL_ASAN 0
#endif

namespace blobsync::sync {

class ConnPool {
 public:
  // Under AddressSanitizer every block is ::operator new's, so that it checks them.
  static constexpr bool kPooled = !BLOBSYNC_CONN_POOL_ASAN;
  static constexpr std::size_t kSlabBytes = 64u << 10;
  static constexpr std::size_t kMaxBlock = 4096;
  static void* allocate(std::size_t bytes);
  static void deallocate(void* p, std::size_t bytes) noexcept;
  // Whether `p` is a pool block (slabs sit in one reserved address range).
  static bool owns(const void* p) noexcept;

  // While a Scope lives on a thread, that thread's ::operator new takes pool
  // blocks for sizes up to kMaxBlock (::operator delete knows them by
  // address): for what a library allocates itself, as Beast its stream's
  // state, that should not sit between the heap's long-lived objects.
  class Scope {
   public:
    Scope() noexcept;
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };

  struct Stats {
    std::size_t slabs = 0;   // mapped, spares included
    std::size_t blocks = 0;  // in use
  };
  static Stats stats();
};

template <class T>
struct ConnAllocator {
  using value_type = T;
  ConnAllocator() = default;
  template <class U>
  ConnAllocator(const ConnAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n != 1) return static_cast<T*>(::operator new(n * sizeof(T)));
    return static_cast<T*>(ConnPool::allocate(sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n != 1) return ::operator delete(p);
    ConnPool::deallocate(p, sizeof(T));
  }
  template <class U>
  bool operator==(const ConnAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace blobsync::sync
