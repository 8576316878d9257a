#include "http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>

namespace txc::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  bool busy = false;
  Clock::time_point started;
  std::string out;  // bytes still to write
  size_t written = 0;
  std::string in;  // bytes read of the current response
};

// The coordinator's IPv4 address, resolved once (a name, or a dotted address).
bool Resolve(const std::string& host, int port, sockaddr_in* addr) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return false;
  *addr = *reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  addr->sin_port = htons(static_cast<uint16_t>(port));
  freeaddrinfo(found);
  return true;
}

int Connect(const sockaddr_in& addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

// A complete response in `in`: its status and body, and how many bytes it took.
bool ParseResponse(const std::string& in, int* status, std::string_view* body, size_t* used) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  *status = std::atoi(in.c_str() + in.find(' ') + 1);
  size_t length = 0;
  for (size_t pos = in.find("\r\n") + 2; pos < end;) {
    const size_t eol = in.find("\r\n", pos);
    std::string_view line(in.data() + pos, eol - pos);
    if (line.size() > 15 && strncasecmp(line.data(), "Content-Length:", 15) == 0) {
      length = std::strtoull(line.data() + 15, nullptr, 10);
    }
    pos = eol + 2;
  }
  if (in.size() < end + 4 + length) return false;
  *body = std::string_view(in.data() + end + 4, length);
  *used = end + 4 + length;
  return true;
}

}  // namespace

LoadResult RunHttpLoad(const LoadOptions& options,
                       const std::function<bool(const std::string& body)>& terminal_ok) {
  LoadResult result;
  sockaddr_in addr{};
  if (!Resolve(options.host, options.port, &addr)) {
    result.errors.push_back("cannot resolve " + options.host);
    return result;
  }
  const int ep = epoll_create1(0);
  std::vector<Conn> conns(static_cast<size_t>(options.in_flight));
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = Connect(addr);
    if (conns[i].fd < 0) {
      result.errors.push_back("cannot connect");
      close(ep);
      return result;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  std::deque<size_t> idle;
  for (size_t i = 0; i < conns.size(); ++i) idle.push_back(i);

  const auto start = Clock::now();
  const auto measure_from = start + options.warmup;
  const auto end = measure_from + options.duration;
  uint64_t next = 0;

  auto flush = [&](Conn& c) {
    while (c.written < c.out.size()) {
      const ssize_t n = write(c.fd, c.out.data() + c.written, c.out.size() - c.written);
      if (n <= 0) return;  // EAGAIN: EPOLLOUT will tell
      c.written += static_cast<size_t>(n);
    }
  };
  const std::string host_header = options.host + ":" + std::to_string(options.port);
  auto start_one = [&](size_t i) {
    Conn& c = conns[i];
    const std::string body = options.body(next++);
    c.out = std::string(!options.wait               ? "POST /v1/transactions"
                        : options.wait_for_decision ? "POST /v1/transactions?wait=decision"
                                                    : "POST /v1/transactions?wait=true") +
            " HTTP/1.1\r\nHost: " + host_header +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
    c.written = 0;
    c.in.clear();
    c.busy = true;
    c.started = Clock::now();
    flush(c);
  };

  std::vector<epoll_event> events(conns.size());
  uint64_t answered = 0;
  bool measuring = false;
  std::optional<Clock::time_point> drain_until;  // set once the run is over
  while (true) {
    const auto now = Clock::now();
    if (!drain_until &&
        (now >= end || (options.max_transactions > 0 && answered >= options.max_transactions))) {
      drain_until = now + options.drain;
    }
    if (drain_until) {
      const bool busy =
          std::any_of(conns.begin(), conns.end(), [](const Conn& c) { return c.busy; });
      if (!busy || now >= *drain_until) break;
    }
    if (!measuring && now >= measure_from) {
      measuring = true;
      if (options.on_measure_start) options.on_measure_start();
    }
    // Start what is due: everything idle (closed loop), or the rate's share (open loop).
    if (drain_until) {
      // Over: only the answers still outstanding are read.
    } else if (options.rate <= 0) {
      while (!idle.empty() && (options.max_transactions == 0 || next < options.max_transactions)) {
        start_one(idle.front());
        idle.pop_front();
      }
    } else {
      const uint64_t due =
          static_cast<uint64_t>(std::chrono::duration<double>(now - start).count() * options.rate);
      while (next + result.not_started < due) {
        if (idle.empty()) {
          result.not_started++;
          continue;
        }
        start_one(idle.front());
        idle.pop_front();
      }
    }
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1);
    for (int e = 0; e < n; ++e) {
      const size_t i = events[e].data.u64;
      Conn& c = conns[i];
      if (events[e].events & EPOLLOUT) flush(c);
      if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      const bool was_busy = c.busy;  // an idle connection is in `idle` already
      char buf[16384];
      bool eof = false;
      while (true) {
        const ssize_t r = read(c.fd, buf, sizeof(buf));
        if (r > 0) {
          c.in.append(buf, static_cast<size_t>(r));
          continue;
        }
        eof = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      int status = 0;
      std::string_view body;
      size_t used = 0;
      const bool complete = c.busy && ParseResponse(c.in, &status, &body, &used);
      if (complete) {
        const auto done = Clock::now();
        const bool ok = (status == 200 || status == 201) && terminal_ok(std::string(body));
        if (c.started >= measure_from && !drain_until) {
          if (ok) {
            result.completed++;
            result.latency_us.push_back(
                std::chrono::duration_cast<std::chrono::microseconds>(done - c.started).count());
          } else {
            result.failed++;
            if (result.errors.size() < 5) {
              result.errors.push_back("HTTP " + std::to_string(status) + ": " + std::string(body));
            }
          }
        }
        c.in.erase(0, used);
        c.busy = false;
        answered++;
      }
      if (eof) {
        // The server closed the connection (keep-alive limit, restart): a request in flight is
        // lost; a new connection takes this one's place.
        if (c.busy) {
          result.failed++;
          answered++;  // lost, not retried: it must not leave a bounded run waiting for it
          if (result.errors.size() < 5) result.errors.push_back("connection closed");
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c = Conn{};
        c.fd = Connect(addr);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
      }
      if (was_busy && (complete || eof)) idle.push_back(i);
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::min(Clock::now(), end) - measure_from).count();
  for (auto& c : conns) close(c.fd);
  close(ep);
  return result;
}

}  // namespace txc::bench
