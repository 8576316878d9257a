#include "nats_event_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

namespace txc {
namespace {

// The loop whose flush the current thread has promised (DeferredFlush), if any.
thread_local NatsEventLoop* deferring = nullptr;
// The loop whose thread this is, if any: it recomputes what to poll after every event anyway.
thread_local NatsEventLoop* looping = nullptr;

}  // namespace

NatsEventLoop::DeferredFlush::DeferredFlush(NatsEventLoop& loop) : previous_(deferring) {
  deferring = &loop;
}

NatsEventLoop::DeferredFlush::~DeferredFlush() { deferring = previous_; }

NatsEventLoop::NatsEventLoop() : wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  // Without its wake-up descriptor the loop could never be stopped: no thread then, and
  // Configure refuses.
  if (wake_fd_ >= 0) {
    thread_ = std::thread([this] { Run(); });
  } else {
    ended_ = true;
  }
}

NatsEventLoop::~NatsEventLoop() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

natsStatus NatsEventLoop::Configure(natsOptions* opts) {
  if (wake_fd_ < 0) return NATS_SYS_ERROR;
  natsStatus s = natsOptions_SetEventLoop(opts, this, &Attach, &Read, &Write, &Detach);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
  return s;
}

void NatsEventLoop::Flush(natsConnection* nc) {
  {
    std::lock_guard lock(mu_);
    if (!want_write_) return;  // nothing buffered (every publish asks for write interest)
  }
  WriteBuffered(nc);
  std::lock_guard lock(mu_);
  if (want_write_) Wake();  // the socket took only part: the loop writes the rest when it can
}

void NatsEventLoop::WriteBuffered(natsConnection* nc) {
  // nats.c takes a write of nothing (send() returning 0) for a closed connection and reconnects,
  // so the buffer is looked at first, and no other writer of ours may empty it in between. (A
  // reconnect resets the buffer itself; nats.c then asks for writes again only once it holds
  // something, so the window for an empty write is the microseconds in between.)
  std::lock_guard lock(write_mu_);
  uint64_t asked = 0;
  {
    std::lock_guard state(mu_);
    asked = write_requests_;
  }
  if (natsConnection_Buffered(nc) > 0) {
    natsConnection_ProcessWriteEvent(nc);  // asks to stop polling for writes once all is out
    return;
  }
  // Nothing to write (interest left over from an attachment): stop polling for it, unless a
  // publish asked for it again meanwhile (it appends before it asks).
  std::lock_guard state(mu_);
  if (write_requests_ == asked) want_write_ = false;
}

void NatsEventLoop::Deliver(natsSubscription* sub, MessageFn fn) {
  std::lock_guard lock(mu_);
  new_deliveries_.push_back({sub, std::move(fn)});
  Wake();  // for what arrived before this call, which no read will announce again
}

void NatsEventLoop::AwaitDeliveries() {
  std::unique_lock lock(mu_);
  const uint64_t seen = passes_;
  Wake();
  passed_.wait(lock, [&] { return passes_ > seen || ended_; });
}

void NatsEventLoop::DeliverPending(std::vector<Delivery>& deliveries) {
  for (Delivery& d : deliveries) {
    // Only this thread reads, so nothing is added meanwhile: the loop ends. (NextMsg on an empty
    // subscription would report a timeout through nats.c's error stack; the count is cheaper.)
    int pending = 0;
    while (natsSubscription_GetPending(d.sub, &pending, nullptr) == NATS_OK && pending > 0) {
      natsMsg* msg = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&msg, d.sub, 0);
      if (s == NATS_OK) {
        d.fn(msg);
      } else if (s != NATS_SLOW_CONSUMER && s != NATS_NO_RESPONDERS) {
        break;  // (those two only report, once, a message dropped or consumed: go on)
      }
    }
  }
  // A subscription closed for good (drained, or its connection closed) has nothing more.
  std::erase_if(deliveries, [](const Delivery& d) { return !natsSubscription_IsValid(d.sub); });
}

void NatsEventLoop::Stop() {
  if (!thread_.joinable()) return;
  {
    std::unique_lock lock(mu_);
    // nats.c reports a close (the closed callback) before it detaches, possibly from a thread
    // of its own: the loop must outlive that last call.
    detached_.wait_for(lock, std::chrono::seconds(5), [this] { return nc_ == nullptr; });
    stopping_ = true;
    Wake();
  }
  if (thread_.joinable()) thread_.join();
}

void NatsEventLoop::Wake() {
  const uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up".
  (void)!write(wake_fd_, &one, sizeof(one));
}

// nats.c calls the callbacks below from the thread that connects, publishes, reconnects or closes,
// or from the loop itself, all but Detach with the connection's lock held; they take only mu_,
// which the loop never holds while calling into nats.c.
natsStatus NatsEventLoop::Attach(void** user_data, void* loop, natsConnection* nc,
                                 natsSock socket) {
  auto* self = static_cast<NatsEventLoop*>(loop);
  std::lock_guard lock(self->mu_);
  self->nc_ = nc;
  self->fd_ = static_cast<int>(socket);
  ++self->attachments_;
  self->want_read_ = true;  // as nats.c's own adapters do: reading starts with the attachment
  // nats.c may have asked for write interest before attaching (its CONNECT and first PING, a
  // SUB): a needless write is harmless, a forgotten one leaves the buffer unwritten for good.
  self->want_write_ = true;
  *user_data = self;
  if (looping != self) self->Wake();
  return NATS_OK;
}

natsStatus NatsEventLoop::Read(void* user_data, bool add) {
  auto* self = static_cast<NatsEventLoop*>(user_data);
  std::lock_guard lock(self->mu_);
  self->want_read_ = add;
  if (looping != self) self->Wake();
  return NATS_OK;
}

natsStatus NatsEventLoop::Write(void* user_data, bool add) {
  auto* self = static_cast<NatsEventLoop*>(user_data);
  std::lock_guard lock(self->mu_);
  self->want_write_ = add;
  if (add) ++self->write_requests_;
  if (add && deferring != self && looping != self) self->Wake();
  return NATS_OK;
}

natsStatus NatsEventLoop::Detach(void* user_data) {
  auto* self = static_cast<NatsEventLoop*>(user_data);
  std::lock_guard lock(self->mu_);
  self->nc_ = nullptr;
  self->fd_ = -1;
  self->want_read_ = self->want_write_ = false;
  if (looping != self) self->Wake();
  self->detached_.notify_all();
  return NATS_OK;
}

void NatsEventLoop::Run() {
  looping = this;
  std::vector<Delivery> deliveries;
  while (true) {
    natsConnection* nc = nullptr;
    uint64_t attachment = 0;
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
    {
      std::lock_guard lock(mu_);
      for (Delivery& d : new_deliveries_) deliveries.push_back(std::move(d));
      new_deliveries_.clear();
    }
    // What the last read queued (or a Deliver() call found), before anything else.
    DeliverPending(deliveries);
    {
      std::lock_guard lock(mu_);
      ++passes_;
      if (stopping_) ended_ = true;
      passed_.notify_all();
      if (ended_) return;
      if (fd_ >= 0 && (want_read_ || want_write_)) {
        nc = nc_;
        attachment = attachments_;
        fds[1].fd = fd_;
        fds[1].events = static_cast<short>((want_read_ ? POLLIN : 0) | (want_write_ ? POLLOUT : 0));
      }
    }
    const int n = poll(fds, nc != nullptr ? 2 : 1, -1);
    ++wakeups_;
    if (n < 0) continue;  // EINTR
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      (void)!read(wake_fd_, &count, sizeof(count));
    }
    if (nc == nullptr) continue;
    if ((fds[1].revents & POLLNVAL) != 0) {
      // Closed under us without a REMOVE (nats.c sends one before closing; this is a guard
      // against spinning on a dead descriptor): wait for the next attachment, which may reuse
      // the number.
      std::lock_guard lock(mu_);
      if (attachments_ == attachment) fd_ = -1;
      continue;
    }
    // nats.c ignores either call once the connection is detached or its socket closed, and
    // reports a broken socket itself (it stops our polling, reconnects, attaches the new one).
    if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0) natsConnection_ProcessReadEvent(nc);
    if ((fds[1].revents & POLLOUT) != 0) WriteBuffered(nc);
  }
}

}  // namespace txc
