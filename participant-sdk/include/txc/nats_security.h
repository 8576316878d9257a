// NatsSecurity: how a connection to NATS proves who it is and protects its traffic. The
// coordinator and the participant SDK take the same settings.
#pragma once

#include <string>

#include "txc/status.h"

namespace txc {

struct NatsSecurity {
  // At most one way to authenticate (the server's `authorization` block decides which).
  std::string user;  // with password
  std::string password;
  std::string token;
  std::string creds_file;  // a .creds file: user JWT and nkey seed (decentralized auth)

  // TLS: on when `tls` is set or any file below is given (a tls:// URL also turns it on).
  bool tls = false;
  std::string tls_ca_file;    // PEM CAs to trust (default: the system's)
  std::string tls_cert_file;  // PEM client certificate, for servers that verify clients,
  std::string tls_key_file;   // with its key
  std::string tls_hostname;   // the name the server's certificate must carry, if not the URL's

  bool UsesTls() const {
    return tls || !tls_ca_file.empty() || !tls_cert_file.empty() || !tls_key_file.empty() ||
           !tls_hostname.empty();
  }
  // Set by FromEnvironment for a variable it cannot read (TXC_NATS_TLS=maybe): Validate() reports
  // it, so the service stops at Participant::Create instead of running without what was meant.
  std::string environment_error;

  // kInvalidArgument for combinations that cannot work: a user without a password (or the
  // reverse), two ways to authenticate, a certificate without its key (or the reverse); and for
  // environment_error.
  Status Validate() const;

  // The settings from the environment variables the coordinator reads too: TXC_NATS_USER,
  // TXC_NATS_PASSWORD, TXC_NATS_TOKEN, TXC_NATS_CREDS, TXC_NATS_TLS (true/false, yes/no, 1/0:
  // txc/bool_setting.h, as the coordinator reads it), TXC_NATS_TLS_CA, TXC_NATS_TLS_CERT,
  // TXC_NATS_TLS_KEY, TXC_NATS_TLS_HOSTNAME.
  static NatsSecurity FromEnvironment();
};

}  // namespace txc
