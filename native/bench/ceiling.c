// The FUSE ceiling for bench/fuse.ts: a minimal libfuse3 low-level
// filesystem serving, from RAM, /big.bin (SIZE bytes, byte i = (i * 131) & 0xff,
// the bench's pattern) and /many with FILES small files f0 ... (file i holds
// the decimal digits of i). It does what hyperfs's native binding does with
// the kernel (readdirplus on every page, 1 s entry and attribute timeouts,
// kept page cache, 1 MiB requests, a multithreaded loop) and nothing else, so
// the bench can tell the cost of the binding and the drive from the cost of FUSE.
// Usage: hyperfs_ceiling <mountpoint> <size> <files>; prints "ready" once
// mounted; SIGTERM or SIGINT unmounts and exits.
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fuse_lowlevel.h>

#define MAX_IO (1024 * 1024)
#define TIMEOUT 1.0
#define INO_MANY 2
#define INO_BIG 3
#define INO_FILE0 4

static char *big;
static size_t big_size;
static unsigned long files;
static const char *mountpoint;
static int readahead_set;

static int file_index (const char *name, unsigned long *out) {
  if (name[0] != 'f' || !name[1]) return 0;
  char *end;
  unsigned long i = strtoul(name + 1, &end, 10);
  if (*end || i >= files || (name[1] == '0' && name[2])) return 0;
  *out = i;
  return 1;
}

static void attr_of (fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_nlink = 1;
  st->st_blksize = 4096;
  if (ino == FUSE_ROOT_ID || ino == INO_MANY) {
    st->st_mode = S_IFDIR | 0755;
  } else if (ino == INO_BIG) {
    st->st_mode = S_IFREG | 0644;
    st->st_size = (off_t)big_size;
  } else {
    char digits[32];
    st->st_mode = S_IFREG | 0644;
    st->st_size = snprintf(digits, sizeof(digits), "%lu", (unsigned long)(ino - INO_FILE0));
  }
  st->st_blocks = (st->st_size + 511) / 512;
}

// as hyperfs does: the bdi's read-ahead raised once init has been applied
static void raise_readahead (void) {
  if (__atomic_exchange_n(&readahead_set, 1, __ATOMIC_RELAXED) || geteuid() != 0) return;
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return;
  char line[8192], point[4096];
  unsigned major = 0, minor = 0, ma, mi;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, point) == 3 && strcmp(point, mountpoint) == 0) { major = ma; minor = mi; }
  }
  fclose(f);
  char p[128];
  snprintf(p, sizeof(p), "/sys/class/bdi/%u:%u/read_ahead_kb", major, minor);
  int fd = open(p, O_WRONLY);
  if (fd >= 0) { ssize_t w = write(fd, "1024", 4); (void)w; close(fd); }
}

static void ll_init (void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  conn->max_write = MAX_IO;
  conn->max_read = MAX_IO;
}

static void ll_lookup (fuse_req_t req, fuse_ino_t parent, const char *name) {
  raise_readahead();
  struct fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  unsigned long i;
  if (parent == FUSE_ROOT_ID && strcmp(name, "many") == 0) e.ino = INO_MANY;
  else if (parent == FUSE_ROOT_ID && strcmp(name, "big.bin") == 0) e.ino = INO_BIG;
  else if (parent == INO_MANY && file_index(name, &i)) e.ino = INO_FILE0 + i;
  else { fuse_reply_err(req, ENOENT); return; }
  attr_of(e.ino, &e.attr);
  e.attr_timeout = TIMEOUT;
  e.entry_timeout = TIMEOUT;
  fuse_reply_entry(req, &e);
}

static void ll_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  raise_readahead();
  struct stat st;
  attr_of(ino, &st);
  fuse_reply_attr(req, &st, TIMEOUT);
}

static void ll_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (ino == FUSE_ROOT_ID || ino == INO_MANY) { fuse_reply_err(req, EISDIR); return; }
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

static void ll_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  if (ino == INO_BIG) {
    size_t n = (size_t)off >= big_size ? 0 : (big_size - (size_t)off < size ? big_size - (size_t)off : size);
    fuse_reply_buf(req, big + off, n);
    return;
  }
  char digits[32];
  size_t len = (size_t)snprintf(digits, sizeof(digits), "%lu", (unsigned long)(ino - INO_FILE0));
  size_t n = (size_t)off >= len ? 0 : (len - (size_t)off < size ? len - (size_t)off : size);
  fuse_reply_buf(req, digits + off, n);
}

// entry i of a folder's listing: its name and inode; 0 past the end
static fuse_ino_t entry_of (fuse_ino_t dir, size_t i, char *name, size_t size) {
  if (i == 0) { snprintf(name, size, "."); return dir; }
  if (i == 1) { snprintf(name, size, ".."); return FUSE_ROOT_ID; }
  if (dir == FUSE_ROOT_ID) {
    if (i == 2) { snprintf(name, size, "many"); return INO_MANY; }
    if (i == 3) { snprintf(name, size, "big.bin"); return INO_BIG; }
    return 0;
  }
  if (i - 2 >= files) return 0;
  snprintf(name, size, "f%lu", (unsigned long)(i - 2));
  return INO_FILE0 + (i - 2);
}

static void readdir_any (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus) {
  char *buf = malloc(size);
  if (!buf) { fuse_reply_err(req, ENOMEM); return; }
  size_t pos = 0;
  char name[64];
  for (size_t i = (size_t)off;; i++) {
    fuse_ino_t child = entry_of(ino, i, name, sizeof(name));
    if (!child) break;
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    attr_of(child, &e.attr);
    int dots = name[0] == '.';
    if (!dots) {
      e.ino = child;
      e.attr_timeout = TIMEOUT;
      e.entry_timeout = TIMEOUT;
    }
    size_t need = plus
      ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)(i + 1))
      : fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)(i + 1));
    if (need > size - pos) break;
    pos += need;
  }
  fuse_reply_buf(req, buf, pos);
  free(buf);
}

static void ll_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  readdir_any(req, ino, size, off, 0);
}

static void ll_readdirplus (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  readdir_any(req, ino, size, off, 1);
}

static void ll_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  (void)ino; (void)name; (void)size;
  fuse_reply_err(req, ENODATA);
}

static const struct fuse_lowlevel_ops OPS = {
  .init = ll_init,
  .lookup = ll_lookup,
  .getattr = ll_getattr,
  .open = ll_open,
  .read = ll_read,
  .readdir = ll_readdir,
  .readdirplus = ll_readdirplus,
  .getxattr = ll_getxattr
};

int main (int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <mountpoint> <size> <files>\n", argv[0]);
    return 2;
  }
  mountpoint = argv[1];
  big_size = strtoull(argv[2], NULL, 10);
  files = strtoul(argv[3], NULL, 10);
  big = malloc(big_size ? big_size : 1);
  if (!big) { perror("malloc"); return 1; }
  for (size_t i = 0; i < big_size; i++) big[i] = (char)((i * 131) & 0xff);

  char opts[128];
  snprintf(opts, sizeof(opts), "fsname=ceiling,subtype=ceiling,max_read=%d", MAX_IO);
  char *args_v[] = { argv[0], "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
  struct fuse_session *se = fuse_session_new(&args, &OPS, sizeof(OPS), NULL);
  if (!se) return 1;
  if (fuse_set_signal_handlers(se) != 0) return 1;
  if (fuse_session_mount(se, mountpoint) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, 16);
  int ret = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return ret ? 1 : 0;
}
