/* Preloaded (LD_PRELOAD) into the coordinator by the disk-fault test: every fsync and fdatasync
 * fails with EIO while the file named by TXC_SYNC_FAULT_FLAG exists, and works otherwise. It
 * wraps nothing else: a general fault injector (libfiu) also wraps mmap and malloc, which
 * deadlocks a process whose allocator maps memory through the wrapper (jemalloc). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int Failing(void) {
  const char* flag = getenv("TXC_SYNC_FAULT_FLAG");
  return flag != NULL && access(flag, F_OK) == 0;
}

int fsync(int fd) {
  static int (*real)(int);
  if (Failing()) {
    errno = EIO;
    return -1;
  }
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (Failing()) {
    errno = EIO;
    return -1;
  }
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  return real(fd);
}
