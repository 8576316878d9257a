// A SQLite VFS that simulates power loss, as SQLite's own crash tests do: every write, truncate
// and delete is held in memory until the file is synced, and PowerLoss() drops everything not
// yet synced. Until then the files read back exactly as written (the page cache). After
// PowerLoss() the machine is "off": writes, syncs and deletes are accepted and discarded, so
// the connections still open can be abandoned without their close reaching the disk.
//
// kill -9 cannot show this: the kernel keeps a killed process's unsynced writes.
#pragma once

namespace txc::testing::power_loss {

// Registers the VFS as SQLite's default, wrapping the previous default. Idempotent.
void Install();
// Drops every unsynced change, and every change from now on, until Restore().
void PowerLoss();
// Power is back: later connections write to disk again (through the same VFS).
void Restore();
// True once PowerLoss() has run (until Restore()).
bool Off();

}  // namespace txc::testing::power_loss
