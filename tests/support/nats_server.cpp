#include "nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include <chrono>
#include <string>

#include "wait_for.h"

namespace txc::testing {
namespace {

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

NatsServer::NatsServer(std::vector<std::string> extra_args)
    : port_(FreePort()), extra_args_(std::move(extra_args)) {
  Start();
}

NatsServer::~NatsServer() { Stop(); }

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

bool NatsServer::Start() {
  if (pid_ > 0) return true;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (getppid() != parent) _exit(126);
    // The server's banner and connection logs would bury the test output.
    if (int devnull = open("/dev/null", O_WRONLY); devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    const std::string port = std::to_string(port_);
    std::vector<const char*> argv = {"nats-server", "-a", "127.0.0.1", "-p", port.c_str()};
    for (const std::string& arg : extra_args_) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    execvp("nats-server", const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  if (pid < 0) return false;
  pid_ = pid;
  const bool up = WaitFor([this] { return CanConnect(port_); }, std::chrono::seconds(10));
  if (!up) Stop();
  return up;
}

void NatsServer::Stop() { Signal(SIGTERM); }

void NatsServer::Kill() { Signal(SIGKILL); }

void NatsServer::Signal(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace txc::testing
