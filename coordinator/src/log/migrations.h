// The log's schema and how it evolves. Each migration step moves the database from version N to
// N+1 (PRAGMA user_version); steps are only ever appended, never edited, once released.
#pragma once

#include <sqlite3.h>

#include "txc/status.h"

namespace txc::log {

// The schema version this code writes: the number of migration steps it knows.
int LatestSchemaVersion();

// Brings the database up to LatestSchemaVersion(), applying the missing steps in order inside one
// IMMEDIATE transaction (all or nothing). A database already newer than this code is refused with
// kFailedPrecondition, since an older binary could misread or corrupt it. Other errors: kInternal.
Status Migrate(sqlite3* db);

}  // namespace txc::log
