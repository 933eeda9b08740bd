// WorkerPool (src/store/worker_pool.cpp): FIFO on one thread, parallel on
// several, post() from any thread, and a destructor that runs every task
// already posted before joining.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/worker_pool.h"

namespace blobsync {
namespace {

TEST(WorkerPool, SizeIsTheThreadCount) {
  WorkerPool one(1), four(4);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(four.size(), 4u);
}

TEST(WorkerPool, OneThreadRunsTasksInPostOrder) {
  std::vector<int> order;
  {
    WorkerPool pool(1);
    for (int i = 0; i < 1000; ++i) pool.post([&order, i] { order.push_back(i); });
  }  // the destructor drains the queue
  ASSERT_EQ(order.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

// Tasks still queued when the pool is destroyed run before it returns, even
// when they were blocked behind a slow one.
TEST(WorkerPool, DestructorRunsEveryPostedTask) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2);
    pool.post([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ++ran;
    });
    for (int i = 0; i < 500; ++i) pool.post([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 501);
}

// Several threads really run at once: two tasks that each wait for the
// other can only both finish on a pool of two or more.
TEST(WorkerPool, TasksRunInParallel) {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool both = true;
  {
    WorkerPool pool(2);
    for (int i = 0; i < 2; ++i) {
      pool.post([&] {
        std::unique_lock lk(mu);
        ++arrived;
        cv.notify_all();
        if (!cv.wait_for(lk, std::chrono::seconds(10), [&] { return arrived == 2; })) both = false;
      });
    }
  }
  EXPECT_EQ(arrived, 2);
  EXPECT_TRUE(both);
}

TEST(WorkerPool, PostFromManyThreadsAndFromTasks) {
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> workers;
  {
    WorkerPool pool(3);
    std::vector<std::thread> posters;
    for (int t = 0; t < 4; ++t) {
      posters.emplace_back([&] {
        for (int i = 0; i < 250; ++i) {
          pool.post([&] {
            {
              std::lock_guard g(mu);
              workers.insert(std::this_thread::get_id());
            }
            ++ran;
          });
        }
      });
    }
    for (auto& p : posters) p.join();
    // A task may post another (it must not wait for it).
    pool.post([&] { pool.post([&] { ++ran; }); });
  }
  EXPECT_EQ(ran.load(), 1001);
  EXPECT_FALSE(workers.count(std::this_thread::get_id()));  // never on the posting thread
  EXPECT_LE(workers.size(), 3u);
}

}  // namespace
}  // namespace blobsync
