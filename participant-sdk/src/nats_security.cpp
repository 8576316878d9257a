#include "txc/nats_security.h"

#include <cstdlib>

#include "txc/bool_setting.h"

namespace txc {

NatsSecurity NatsSecurity::FromEnvironment() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v == nullptr ? "" : v);
  };
  NatsSecurity s;
  s.user = env("TXC_NATS_USER");
  s.password = env("TXC_NATS_PASSWORD");
  s.token = env("TXC_NATS_TOKEN");
  s.creds_file = env("TXC_NATS_CREDS");
  if (const std::string tls = env("TXC_NATS_TLS"); !tls.empty()) {
    auto parsed = ParseBoolSetting(tls, "TXC_NATS_TLS");
    if (parsed.ok()) {
      s.tls = *parsed;
    } else {
      s.environment_error = parsed.status().message();
    }
  }
  s.tls_ca_file = env("TXC_NATS_TLS_CA");
  s.tls_cert_file = env("TXC_NATS_TLS_CERT");
  s.tls_key_file = env("TXC_NATS_TLS_KEY");
  s.tls_hostname = env("TXC_NATS_TLS_HOSTNAME");
  return s;
}

Status NatsSecurity::Validate() const {
  if (!environment_error.empty()) return Status::InvalidArgument(environment_error);
  if (user.empty() != password.empty()) {
    return Status::InvalidArgument("a NATS user needs a password, and a password a user");
  }
  const int ways = (user.empty() ? 0 : 1) + (token.empty() ? 0 : 1) + (creds_file.empty() ? 0 : 1);
  if (ways > 1) {
    return Status::InvalidArgument(
        "give NATS one way to authenticate: user and password, a token, or a creds file");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return Status::InvalidArgument(
        "a NATS TLS client certificate needs its key, and a key its "
        "certificate");
  }
  return Status::Ok();
}

}  // namespace txc
