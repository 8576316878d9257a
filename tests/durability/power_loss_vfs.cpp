#include "power_loss_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace txc::testing::power_loss {
namespace {

std::atomic<bool> off{false};
sqlite3_vfs* base = nullptr;  // the real VFS underneath
sqlite3_vfs vfs;

// One change not yet synced: a write (data non-empty) or a truncate (to `offset`).
struct Change {
  sqlite3_int64 offset = 0;
  std::string data;
  bool truncate = false;
};

// What the OS holds of one file in its page cache: shared by every handle on the file, as the
// coordinator's writer and reader connections share one database.
struct Cached {
  std::mutex mu;
  std::vector<Change> pending;
};

std::mutex registry_mu;
std::map<std::string, std::shared_ptr<Cached>> registry;  // by file name

std::shared_ptr<Cached> CachedFor(const char* name) {
  if (name == nullptr) return std::make_shared<Cached>();  // a temporary file: private
  std::lock_guard lock(registry_mu);
  auto& slot = registry[name];
  if (!slot) slot = std::make_shared<Cached>();
  return slot;
}

struct File {
  sqlite3_file base_file;        // must come first: SQLite sees a File* as a sqlite3_file*
  sqlite3_file* real = nullptr;  // the underlying file, allocated after this struct
  std::shared_ptr<Cached> cached;
};

File* Self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

// The size the file has once `pending` is applied to a real file of `size` bytes.
sqlite3_int64 SizeWith(const std::vector<Change>& pending, sqlite3_int64 size) {
  for (const Change& c : pending) {
    size = c.truncate ? c.offset : std::max<sqlite3_int64>(size, c.offset + c.data.size());
  }
  return size;
}

int Close(sqlite3_file* f) {
  File* self = Self(f);
  const int rc = self->real->pMethods ? self->real->pMethods->xClose(self->real) : SQLITE_OK;
  self->cached.~shared_ptr();
  return rc;
}

int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  File* self = Self(f);
  std::lock_guard lock(self->cached->mu);
  char* buf = static_cast<char*>(out);
  int rc = self->real->pMethods->xRead(self->real, buf, amount, offset);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  sqlite3_int64 real_size = 0;
  if (int s = self->real->pMethods->xFileSize(self->real, &real_size); s != SQLITE_OK) return s;
  sqlite3_int64 size = real_size;
  for (const Change& c : self->cached->pending) {
    if (c.truncate) {
      size = c.offset;
      if (size < offset + amount) {  // what lies beyond the new end reads as zeros
        const sqlite3_int64 from = std::max<sqlite3_int64>(size, offset);
        std::memset(buf + (from - offset), 0, offset + amount - from);
      }
      continue;
    }
    const sqlite3_int64 lo = std::max<sqlite3_int64>(offset, c.offset);
    const sqlite3_int64 hi = std::min<sqlite3_int64>(offset + amount, c.offset + c.data.size());
    if (lo < hi) std::memcpy(buf + (lo - offset), c.data.data() + (lo - c.offset), hi - lo);
    size = std::max<sqlite3_int64>(size, c.offset + c.data.size());
  }
  if (offset + amount <= size) return SQLITE_OK;
  const sqlite3_int64 from = std::max<sqlite3_int64>(size, offset);
  std::memset(buf + (from - offset), 0, offset + amount - from);
  return SQLITE_IOERR_SHORT_READ;
}

int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  File* self = Self(f);
  if (off) return SQLITE_OK;
  std::lock_guard lock(self->cached->mu);
  self->cached->pending.push_back(
      {offset, std::string(static_cast<const char*>(data), amount), false});
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  File* self = Self(f);
  if (off) return SQLITE_OK;
  std::lock_guard lock(self->cached->mu);
  self->cached->pending.push_back({size, "", true});
  return SQLITE_OK;
}

int Sync(sqlite3_file* f, int flags) {
  File* self = Self(f);
  std::lock_guard lock(self->cached->mu);
  if (off) return SQLITE_OK;  // the machine is off: nothing reaches the disk any more
  for (const Change& c : self->cached->pending) {
    const int rc = c.truncate
                       ? self->real->pMethods->xTruncate(self->real, c.offset)
                       : self->real->pMethods->xWrite(self->real, c.data.data(),
                                                      static_cast<int>(c.data.size()), c.offset);
    if (rc != SQLITE_OK) return rc;
  }
  self->cached->pending.clear();
  return self->real->pMethods->xSync(self->real, flags);
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  File* self = Self(f);
  std::lock_guard lock(self->cached->mu);
  sqlite3_int64 real_size = 0;
  if (int rc = self->real->pMethods->xFileSize(self->real, &real_size); rc != SQLITE_OK) return rc;
  *size = SizeWith(self->cached->pending, real_size);
  return SQLITE_OK;
}

// The rest passes straight through: locks and shared memory are not on the disk.
int Lock(sqlite3_file* f, int level) {
  return Self(f)->real->pMethods->xLock(Self(f)->real, level);
}
int Unlock(sqlite3_file* f, int level) {
  return Self(f)->real->pMethods->xUnlock(Self(f)->real, level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Self(f)->real->pMethods->xCheckReservedLock(Self(f)->real, out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Self(f)->real->pMethods->xFileControl(Self(f)->real, op, arg);
}
int SectorSize(sqlite3_file* f) { return Self(f)->real->pMethods->xSectorSize(Self(f)->real); }
int DeviceCharacteristics(sqlite3_file* f) {
  // Claims nothing (no atomic writes, no safe append): SQLite must rely on syncs alone.
  (void)f;
  return 0;
}
int ShmMap(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  return Self(f)->real->pMethods->xShmMap(Self(f)->real, page, page_size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Self(f)->real->pMethods->xShmLock(Self(f)->real, offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Self(f)->real->pMethods->xShmBarrier(Self(f)->real); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  // After a power loss the wal-index must not be deleted with the WAL's data still unsynced;
  // SQLite rebuilds it from the WAL on the next open anyway.
  return Self(f)->real->pMethods->xShmUnmap(Self(f)->real, off ? 0 : delete_flag);
}

const sqlite3_io_methods kMethods = {2,  // no memory-mapped I/O: every read must go through Read()
                                     Close,       Read,       Write,
                                     Truncate,    Sync,       FileSize,
                                     Lock,        Unlock,     CheckReservedLock,
                                     FileControl, SectorSize, DeviceCharacteristics,
                                     ShmMap,      ShmLock,    ShmBarrier,
                                     ShmUnmap,    nullptr,    nullptr};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  File* self = Self(f);
  new (&self->cached) std::shared_ptr<Cached>(CachedFor(name));
  self->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(self) + sizeof(File));
  self->real->pMethods = nullptr;
  f->pMethods = nullptr;
  const int rc = base->xOpen(base, name, self->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    self->cached.~shared_ptr();
    return rc;
  }
  f->pMethods = &kMethods;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (off) return SQLITE_OK;  // a delete is a write to the directory: lost as well
  {
    std::lock_guard lock(registry_mu);
    if (auto it = registry.find(name); it != registry.end()) {
      std::lock_guard cached_lock(it->second->mu);
      it->second->pending.clear();
      registry.erase(it);
    }
  }
  return base->xDelete(base, name, sync_dir);
}

}  // namespace

void Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    base = sqlite3_vfs_find(nullptr);
    vfs = *base;
    vfs.iVersion = std::min(base->iVersion, 3);
    vfs.szOsFile = static_cast<int>(sizeof(File)) + base->szOsFile;
    vfs.zName = "txc-power-loss";
    vfs.pAppData = nullptr;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/1);
  });
}

void PowerLoss() {
  off = true;
  std::lock_guard lock(registry_mu);
  for (auto& [name, cached] : registry) {
    std::lock_guard cached_lock(cached->mu);
    cached->pending.clear();  // the page cache is gone with the power
  }
}
void Restore() { off = false; }
bool Off() { return off; }

}  // namespace txc::testing::power_loss
