// What must hold after a fault run once everything is quiet, checked against the coordinator's
// log (through the REST API) and every participant's own database:
//   T  every transaction is terminal; every one the workload got acknowledged is in the log;
//   A  each transaction's outcome is the same at every participant: committed everywhere or
//      nowhere; a saga's steps all done, or none left done;
//   E  every handler effect happened at most once per (transaction, branch, op);
//   O  nothing is left prepared or pre-committed, and no money is held;
//   C  the total of all balances is what it was, and no balance is negative.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "bank_workload.h"
#include "topology.h"

namespace txc::fault {

struct CheckResult {
  std::vector<std::string> violations;
  std::map<std::string, int> outcomes;  // "2pc committed" -> count
  int transactions = 0;                 // in the coordinator's log
};

// Polls until the coordinator has no unfinished transaction and no participant holds a branch in
// doubt. False if that does not happen within `timeout` (`why` says what is still pending).
bool WaitQuiet(const Topology& topology, std::chrono::seconds timeout, std::string* why);

CheckResult CheckInvariants(const Topology& topology, const std::vector<Accepted>& accepted);

}  // namespace txc::fault
