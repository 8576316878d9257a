#include "nats_security_options.h"

#include <string>

namespace txc {

Status ApplyNatsSecurity(natsOptions* opts, const NatsSecurity& security) {
  TXC_RETURN_IF_ERROR(security.Validate());
  std::string step;
  natsStatus s = NATS_OK;
  auto apply = [&](const char* what, auto&& call) {
    if (s != NATS_OK) return;
    s = call();
    if (s != NATS_OK) step = what;
  };
  if (!security.user.empty()) {
    apply("user and password", [&] {
      return natsOptions_SetUserInfo(opts, security.user.c_str(), security.password.c_str());
    });
  }
  if (!security.token.empty()) {
    apply("token", [&] { return natsOptions_SetToken(opts, security.token.c_str()); });
  }
  if (!security.creds_file.empty()) {
    apply(("creds file " + security.creds_file).c_str(), [&] {
      return natsOptions_SetUserCredentialsFromFiles(opts, security.creds_file.c_str(), nullptr);
    });
  }
  if (security.UsesTls()) {
    apply("TLS", [&] { return natsOptions_SetSecure(opts, true); });
  }
  if (!security.tls_ca_file.empty()) {
    apply(("TLS CA file " + security.tls_ca_file).c_str(), [&] {
      return natsOptions_LoadCATrustedCertificates(opts, security.tls_ca_file.c_str());
    });
  }
  if (!security.tls_cert_file.empty()) {
    apply(("TLS certificate " + security.tls_cert_file).c_str(), [&] {
      return natsOptions_LoadCertificatesChain(opts, security.tls_cert_file.c_str(),
                                               security.tls_key_file.c_str());
    });
  }
  if (!security.tls_hostname.empty()) {
    apply("TLS hostname",
          [&] { return natsOptions_SetExpectedHostname(opts, security.tls_hostname.c_str()); });
  }
  if (s == NATS_OK) return Status::Ok();
  const char* detail = nats_GetLastError(nullptr);
  return Status::InvalidArgument(
      "NATS " + step + ": " + natsStatus_GetText(s) +
      (detail != nullptr && *detail != '\0' ? std::string(" (") + detail + ")" : ""));
}

}  // namespace txc
