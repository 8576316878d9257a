// NatsServer: starts a real nats-server on a free loopback port for a test and kills it at the
// end. Restart() keeps the port, so clients can test reconnection.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace txc::testing {

class NatsServer {
 public:
  // Starts the server, with `extra_args` (e.g. --user, --tls ...) after the address and port;
  // check Running().
  explicit NatsServer(std::vector<std::string> extra_args = {});
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  bool Running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const;
  void Stop();   // SIGTERM and reap
  void Kill();   // SIGKILL and reap (a crash)
  bool Start();  // on the same port; waits until it accepts connections
  bool Restart() {
    Stop();
    return Start();
  }

 private:
  void Signal(int sig);  // and reap

  int port_ = 0;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreePort();

}  // namespace txc::testing
