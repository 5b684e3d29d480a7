// hyperfs_fuse: a Node-API addon over libfuse3's low-level API.
//
// Threads. A loop thread runs libfuse's multithreaded session loop; its
// workers read kernel requests and hand each one to the JS thread through a
// thread-safe function (napi_call_threadsafe_function, non-blocking), then go
// back to reading. JS answers later, on its own thread, through the reply*
// functions below. No worker ever waits for JS, so a busy JS thread never
// stops the kernel from handing us the next request, and requests that need
// no JS (forget, later pages of a listing, xattr names the drive cannot hold)
// are answered on the worker at once.
//
// Inodes. The kernel speaks inode numbers, the filesystem speaks paths. The
// table here maps each inode the kernel knows to (parent, name), counts the
// kernel's lookups, and drops an inode when the kernel forgets it. A path gets
// the same number each time it is looked up (a hash of the path, probed past
// a collision), so `git status` and rsync see stable st_ino within a version.
//
// Notifications. fuse_lowlevel_notify_inval_* write to /dev/fuse and may wait
// for the kernel to lock pages; a page stays locked while its read waits for
// an answer from JS. So JS never calls them itself: they are queued to a
// notifier thread, and JS hears back through the thread-safe function.
//
// Requests awaiting JS live in a slot table; JS holds only a number
// (slot + generation), so a late or repeated answer is ignored, never a use
// after free.
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <math.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <node_api.h>

// Bounds, named once.
#define MAX_WRITE (1024 * 1024)          // largest write and read request (max_pages = 256)
#define MAX_READAHEAD (1024 * 1024)      // the kernel's read-ahead window per request
#define MAX_BACKGROUND 64                // async requests (read-ahead) the kernel keeps in flight
#define CONGESTION_THRESHOLD 48
#define MAX_IDLE_THREADS 8               // workers kept while idle
#define MAX_THREADS 16                   // workers at most: none of them ever waits for JS
#define SLOT_LIMIT (1u << 22)            // requests awaiting JS at once
#define SLOT_GEN_LIMIT (1u << 30)        // id = gen * SLOT_LIMIT + slot stays below 2^53
#define MOUNT_LOG_MAX 2048               // libfuse's messages kept to explain a failed mount
#define ATTR_FIELDS 11                   // numbers per attribute record from JS: the stat, then how long the kernel may keep it
#define MAX_XATTR_PREFIXES 8
#define NAME_MAX_BYTES 255
#define INO_MASK ((1ULL << 53) - 1)     // inode numbers a JS number holds exactly
#define MAX_ARGS 11                      // arguments of the JS dispatcher at most
#define UNMOUNT_GRACE_MS 2000            // after the unmount, how long the loop may take to end before the connection is aborted
// A folder whose attributes came with a timeout of at least LISTING_STABLE_TTL
// seconds is one whose every change reaches the kernel as an invalidation (a
// drive that invalidateOnChange() follows, or a version that cannot change):
// its listing may stay in the kernel's cache of the folder (cache_readdir),
// and be reused by later opens for LISTING_KEEP_S after it came from JS.
// That is under the timeouts of the names and attributes the same listing
// gave (readdirplus), so a reused listing never sends the kernel back to ask
// for each entry; a later open lists anew, with fresh attributes.
#define LISTING_STABLE_TTL 30.0
#define LISTING_KEEP_S 30.0

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "hyperfs_fuse: " #call " failed"); return NULL; } } while (0)

enum {
  OP_LOOKUP = 1, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR,
  OP_SYMLINK, OP_RENAME, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC, OP_READDIR,
  OP_STATFS, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_ACCESS, OP_CREATE,
  OP_NOTIFY_DONE, OP_EXIT
};

// ---- the inode table

typedef struct hf_node {
  uint64_t ino;
  uint64_t nlookup;        // the kernel's references
  uint64_t refs;           // children that name this node as parent
  struct hf_node *parent;  // NULL for the root
  char *name;
  uint32_t type;           // S_IFMT bits, to notice a path that now holds another kind of file
  int attached;            // reachable by (parent, name); unlinked nodes are not
  struct hf_node *ino_next, *name_next;
  // what the content looked like at the last open, for keep_cache
  int seen;
  double seen_size, seen_mtime, seen_ctime;
  // Open handles. A file unlinked or renamed over while open is moved to a
  // hidden name instead (as libfuse's high-level API does), so its handles
  // keep reading the old bytes; the last release removes it.
  uint32_t opens;
  int hidden;
  // for folders: whether their last attributes had a stable timeout, and
  // when JS last listed them (monotonic seconds; 0: never)
  int stable;
  double listed_at;
} hf_node;

typedef struct {
  hf_node **by_ino, **by_name;
  size_t nb_ino, nb_name, n_ino, n_name;
  hf_node *root;
} hf_table;

// ---- requests

typedef struct hf_dir {
  pthread_mutex_t lock;
  // a listing asked of JS: the folder may be released (its reader killed)
  // before JS answers, so it is freed by whichever of the two comes last
  int pending, released;
  int loaded;
  size_t count;
  char **names;
  char *blob;
  double *attrs; // ATTR_FIELDS per entry
} hf_dir;

typedef struct hf_req {
  int op;
  fuse_req_t req;
  uint32_t slot, gen;
  char *path, *path2, *name, *name2;
  fuse_ino_t ino, ino2;
  uint64_t fh;
  int has_fh;
  int flags, to_set;
  uint32_t mode, uid, gid;
  uint64_t size;
  int64_t off;
  double atime, mtime;
  char *data;
  size_t datalen;
  hf_dir *dir;
  int plus;
  int err; // OP_NOTIFY_DONE: the notification's result
  double notify_id;
  struct hf_req *next; // notifier queue
  int notify_kind; // 1 inode, 2 entry
  int queued;   // in the thread-safe function's queue, not yet seen by JS
  int answered; // answered EIO at unmount while still queued
} hf_req;

typedef struct {
  hf_req *r;
  uint32_t gen;
  uint32_t next_free;
} hf_slot;

typedef struct hf_mount {
  struct fuse_session *se;
  char *mountpoint;
  pthread_t loop_thread, notify_thread;
  int loop_started, notify_started;
  napi_threadsafe_function tsfn;
  napi_ref dispatch;
  double entry_timeout, attr_timeout, negative_timeout;
  int kernel_cache;
  char *xattr_prefixes[MAX_XATTR_PREFIXES];
  int n_xattr_prefixes;

  pthread_mutex_t lock; // the inode table
  hf_table tab;

  pthread_mutex_t slot_lock;
  hf_slot *slots;
  uint32_t nslots, free_head, live;

  pthread_mutex_t notify_lock;
  pthread_cond_t notify_cond;
  hf_req *notify_head, *notify_tail;
  int notify_stop;

  volatile int exited; // the loop has ended
  int readahead_set;
  int unmounting;
  int orphaned; // unmounted, but a process still held it and the connection could not be aborted
  int closed; // unmount() has finished: the session is gone
} hf_mount;

#define NO_SLOT UINT32_MAX

// ---- small helpers

static char *dupstr (const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static uint64_t hash_bytes (uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t mix64 (uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
  return x;
}

static double now_ms (void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double ts_ms (struct timespec ts) {
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static struct timespec ms_ts (double ms) {
  struct timespec ts;
  double s = ms / 1000.0;
  ts.tv_sec = (time_t)(s < 0 ? s - 1 : s);
  if (s < 0 && (double)ts.tv_sec * 1000.0 == ms) ts.tv_sec = (time_t)s;
  double rest = ms - (double)ts.tv_sec * 1000.0;
  long ns = (long)(rest * 1e6 + 0.5);
  if (ns >= 1000000000L) { ts.tv_sec++; ns -= 1000000000L; }
  if (ns < 0) ns = 0;
  ts.tv_nsec = ns;
  return ts;
}

// ---- inode table (all under m->lock)

static uint64_t name_hash (uint64_t parent, const char *name) {
  return mix64(hash_bytes(0xcbf29ce484222325ULL ^ parent, name, strlen(name)));
}

static int tab_grow (hf_node ***buckets, size_t *nb, int by_name) {
  size_t nnb = *nb ? *nb * 2 : 1024;
  hf_node **nbk = calloc(nnb, sizeof(hf_node *));
  if (!nbk) return -1;
  for (size_t i = 0; i < *nb; i++) {
    hf_node *n = (*buckets)[i];
    while (n) {
      hf_node *next = by_name ? n->name_next : n->ino_next;
      size_t b = (by_name ? name_hash(n->parent ? n->parent->ino : 0, n->name) : mix64(n->ino)) & (nnb - 1);
      if (by_name) { n->name_next = nbk[b]; } else { n->ino_next = nbk[b]; }
      nbk[b] = n;
      n = next;
    }
  }
  free(*buckets);
  *buckets = nbk;
  *nb = nnb;
  return 0;
}

static hf_node *node_get (hf_table *t, uint64_t ino) {
  if (!t->nb_ino) return NULL;
  for (hf_node *n = t->by_ino[mix64(ino) & (t->nb_ino - 1)]; n; n = n->ino_next) if (n->ino == ino) return n;
  return NULL;
}

static hf_node *node_child (hf_table *t, hf_node *parent, const char *name) {
  if (!t->nb_name || !parent) return NULL;
  for (hf_node *n = t->by_name[name_hash(parent->ino, name) & (t->nb_name - 1)]; n; n = n->name_next) {
    if (n->parent == parent && strcmp(n->name, name) == 0) return n;
  }
  return NULL;
}

static void attach (hf_table *t, hf_node *n) {
  if (t->n_name + 1 > t->nb_name) tab_grow(&t->by_name, &t->nb_name, 1);
  size_t b = name_hash(n->parent->ino, n->name) & (t->nb_name - 1);
  n->name_next = t->by_name[b];
  t->by_name[b] = n;
  t->n_name++;
  n->attached = 1;
}

static void detach (hf_table *t, hf_node *n) {
  if (!n->attached) return;
  hf_node **p = &t->by_name[name_hash(n->parent->ino, n->name) & (t->nb_name - 1)];
  while (*p && *p != n) p = &(*p)->name_next;
  if (*p) *p = n->name_next;
  n->name_next = NULL;
  n->attached = 0;
  t->n_name--;
}

// Frees a node nobody refers to any more, and then its parent if that was
// its last reference.
static void node_release (hf_table *t, hf_node *n) {
  while (n && n != t->root && n->nlookup == 0 && n->refs == 0) {
    detach(t, n);
    hf_node **p = &t->by_ino[mix64(n->ino) & (t->nb_ino - 1)];
    while (*p && *p != n) p = &(*p)->ino_next;
    if (*p) *p = n->ino_next;
    t->n_ino--;
    hf_node *parent = n->parent;
    free(n->name);
    free(n);
    if (!parent) break;
    parent->refs--;
    n = parent;
  }
}

// Builds the path of a node; NULL when out of memory.
static char *node_path (hf_node *n, const char *child) {
  size_t len = 0;
  for (hf_node *p = n; p && p->parent; p = p->parent) len += strlen(p->name) + 1;
  if (child) len += strlen(child) + 1;
  if (len == 0) return dupstr("/");
  char *out = malloc(len + 1);
  if (!out) return NULL;
  size_t pos = len;
  out[pos] = 0;
  if (child) {
    size_t l = strlen(child);
    pos -= l;
    memcpy(out + pos, child, l);
    out[--pos] = '/';
  }
  for (hf_node *p = n; p && p->parent; p = p->parent) {
    size_t l = strlen(p->name);
    pos -= l;
    memcpy(out + pos, p->name, l);
    out[--pos] = '/';
  }
  return out;
}

static hf_node *node_new (hf_table *t, hf_node *parent, const char *name, uint32_t type) {
  hf_node *n = calloc(1, sizeof(hf_node));
  if (!n) return NULL;
  n->name = dupstr(name);
  if (!n->name) { free(n); return NULL; }
  char *path = node_path(parent, name);
  uint64_t ino = path ? hash_bytes(0xcbf29ce484222325ULL, path, strlen(path)) : 0;
  free(path);
  // 0 is no inode and 1 the root; a number in use (a collision, or the same
  // path still held by an unlinked file) moves on to the next
  // Node reads st_ino as a double: keep it exact
  ino &= INO_MASK;
  while (ino <= FUSE_ROOT_ID || node_get(t, ino)) ino = mix64(ino + 0x9e3779b97f4a7c15ULL) & INO_MASK;
  n->ino = ino;
  n->parent = parent;
  n->type = type;
  parent->refs++;
  if (t->n_ino + 1 > t->nb_ino) tab_grow(&t->by_ino, &t->nb_ino, 0);
  size_t b = mix64(ino) & (t->nb_ino - 1);
  n->ino_next = t->by_ino[b];
  t->by_ino[b] = n;
  t->n_ino++;
  attach(t, n);
  return n;
}

// The node for parent/name holding a file of this type: the known one, or
// a new one if the name is new or now holds another kind of file (the
// kernel refuses an inode whose type changed under it).
static hf_node *node_entry (hf_table *t, hf_node *parent, const char *name, uint32_t type) {
  hf_node *n = node_child(t, parent, name);
  if (n && n->type == type) return n;
  if (n) {
    detach(t, n);
    node_release(t, n);
  }
  return node_new(t, parent, name, type);
}

static void table_init (hf_table *t) {
  memset(t, 0, sizeof(*t));
  tab_grow(&t->by_ino, &t->nb_ino, 0);
  tab_grow(&t->by_name, &t->nb_name, 1);
  hf_node *root = calloc(1, sizeof(hf_node));
  root->ino = FUSE_ROOT_ID;
  root->name = dupstr("");
  root->type = S_IFDIR;
  root->nlookup = 1;
  t->root = root;
  size_t b = mix64(root->ino) & (t->nb_ino - 1);
  t->by_ino[b] = root;
  t->n_ino = 1;
}

static void table_free (hf_table *t) {
  for (size_t i = 0; i < t->nb_ino; i++) {
    hf_node *n = t->by_ino[i];
    while (n) {
      hf_node *next = n->ino_next;
      free(n->name);
      free(n);
      n = next;
    }
  }
  free(t->by_ino);
  free(t->by_name);
  memset(t, 0, sizeof(*t));
}

// ---- slots

static uint32_t slot_add (hf_mount *m, hf_req *r) {
  pthread_mutex_lock(&m->slot_lock);
  if (m->free_head == NO_SLOT) {
    uint32_t n = m->nslots ? m->nslots * 2 : 256;
    if (n > SLOT_LIMIT) n = SLOT_LIMIT;
    if (n == m->nslots) { pthread_mutex_unlock(&m->slot_lock); return NO_SLOT; }
    hf_slot *s = realloc(m->slots, n * sizeof(hf_slot));
    if (!s) { pthread_mutex_unlock(&m->slot_lock); return NO_SLOT; }
    for (uint32_t i = m->nslots; i < n; i++) {
      s[i].r = NULL;
      s[i].gen = 1;
      s[i].next_free = i + 1 < n ? i + 1 : m->free_head;
    }
    m->free_head = m->nslots;
    m->slots = s;
    m->nslots = n;
  }
  uint32_t i = m->free_head;
  m->free_head = m->slots[i].next_free;
  m->slots[i].r = r;
  r->slot = i;
  r->gen = m->slots[i].gen;
  m->live++;
  pthread_mutex_unlock(&m->slot_lock);
  return i;
}

static double slot_id (hf_req *r) {
  return (double)r->gen * (double)SLOT_LIMIT + (double)r->slot;
}

// Takes the request out of its slot; NULL if it was answered already.
static hf_req *slot_take (hf_mount *m, double id) {
  if (!(id >= 0)) return NULL;
  uint64_t v = (uint64_t)id;
  uint32_t i = (uint32_t)(v % SLOT_LIMIT);
  uint32_t gen = (uint32_t)(v / SLOT_LIMIT);
  hf_req *r = NULL;
  pthread_mutex_lock(&m->slot_lock);
  if (i < m->nslots && m->slots[i].r && m->slots[i].gen == gen) {
    r = m->slots[i].r;
    m->slots[i].r = NULL;
    m->slots[i].gen = m->slots[i].gen + 1 >= SLOT_GEN_LIMIT ? 1 : m->slots[i].gen + 1;
    m->slots[i].next_free = m->free_head;
    m->free_head = i;
    m->live--;
  }
  pthread_mutex_unlock(&m->slot_lock);
  return r;
}

static void req_free (hf_req *r) {
  if (!r) return;
  free(r->path);
  free(r->path2);
  free(r->name);
  free(r->name2);
  free(r->data);
  free(r);
}

static hf_req *req_new (int op, fuse_req_t req) {
  hf_req *r = calloc(1, sizeof(hf_req));
  if (!r) return NULL;
  r->op = op;
  r->req = req;
  r->slot = NO_SLOT;
  return r;
}

static void raise_readahead (const char *mnt);

// Hands a request to JS. On failure the kernel gets EIO at once.
static void to_js (hf_mount *m, hf_req *r) {
  // the first request comes after the kernel applied our init answer,
  // which would have undone this
  if (!__atomic_exchange_n(&m->readahead_set, 1, __ATOMIC_RELAXED)) raise_readahead(m->mountpoint);
  if (r->req && slot_add(m, r) == NO_SLOT) {
    fuse_reply_err(r->req, EIO);
    req_free(r);
    return;
  }
  r->queued = 1;
  if (napi_call_threadsafe_function(m->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
    r->queued = 0;
    if (r->req && slot_take(m, slot_id(r))) fuse_reply_err(r->req, EIO);
    req_free(r);
  }
}

static hf_mount *M (fuse_req_t req) {
  return (hf_mount *)fuse_req_userdata(req);
}

// A request on an inode, with that inode's path. ENOENT for an inode that
// was unlinked (its path may name another file by now).
static hf_req *ino_req (int op, fuse_req_t req, fuse_ino_t ino, int any_path) {
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  hf_node *n = node_get(&m->tab, ino);
  char *path = n && (n->attached || n == m->tab.root || any_path) ? node_path(n, NULL) : NULL;
  pthread_mutex_unlock(&m->lock);
  if (!path) {
    fuse_reply_err(req, n ? ENOENT : ESTALE);
    return NULL;
  }
  hf_req *r = req_new(op, req);
  if (!r) { free(path); fuse_reply_err(req, ENOMEM); return NULL; }
  r->ino = ino;
  r->path = path;
  return r;
}

// A request on parent/name.
static hf_req *entry_req (int op, fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (strlen(name) > NAME_MAX_BYTES) { fuse_reply_err(req, ENAMETOOLONG); return NULL; }
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  hf_node *p = node_get(&m->tab, parent);
  char *path = p && (p->attached || p == m->tab.root) ? node_path(p, name) : NULL;
  pthread_mutex_unlock(&m->lock);
  if (!path) { fuse_reply_err(req, p ? ENOENT : ESTALE); return NULL; }
  hf_req *r = req_new(op, req);
  if (!r) { free(path); fuse_reply_err(req, ENOMEM); return NULL; }
  r->ino = parent;
  r->name = dupstr(name);
  r->path = path;
  return r;
}

// ---- attributes

static void fill_stat (struct stat *st, const double *a, uint64_t ino) {
  memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_mode = (mode_t)a[0];
  st->st_uid = (uid_t)a[1];
  st->st_gid = (gid_t)a[2];
  st->st_size = (off_t)a[3];
  st->st_nlink = (nlink_t)a[4];
  st->st_blksize = (blksize_t)a[5];
  st->st_blocks = (blkcnt_t)a[6];
  st->st_atim = ms_ts(a[7]);
  st->st_mtim = ms_ts(a[8]);
  st->st_ctim = ms_ts(a[9]);
}

// Seconds the kernel may keep a name and its attributes: what JS said for
// this record (a[10]), else the mount's default.
static double ttl_of (const double *a, double def) {
  return a[10] > 0 ? a[10] : def;
}

static double now_s (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Notes what a folder's attribute record says of its listing (see
// LISTING_STABLE_TTL); the caller holds m->lock.
static void note_attrs (hf_node *n, const double *a) {
  if (n) n->stable = a[10] >= LISTING_STABLE_TTL;
}

// ---- the kernel's requests (on libfuse's worker threads)

static void ll_init (void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  // every listing carries the stats anyway: plus on every page, not only the first
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // a getattr that shows a new mtime or size drops the cached pages
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // No writeback cache. With it the kernel keeps, for a regular file it
  // has cached, its own size, mtime and ctime and ignores ours
  // (fuse_get_cache_mask), even after notify_inval_inode. Tried: a mount
  // then reads a file another mount of the drive made longer at the old
  // size ("two," for "two, and longer\n"), a replica's mount (had it been
  // on there too) tears a replicated change, and after a save that failed on
  // a full disk the mount shows the unsaved bytes instead of the old content
  // the drive kept. It also ignores FOPEN_NOFLUSH, so every close would
  // FLUSH again.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // O_TRUNC reaches open(): the filesystem empties only its staged copy, so
  // a save that fails keeps the old content (a setattr(size 0) first would
  // commit the emptied file at once)
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  conn->max_write = MAX_WRITE;
  conn->max_read = MAX_WRITE; // as mounted (max_read=): libfuse insists the two agree
  conn->max_readahead = conn->max_readahead < MAX_READAHEAD ? conn->max_readahead : MAX_READAHEAD;
  conn->max_background = MAX_BACKGROUND;
  conn->congestion_threshold = CONGESTION_THRESHOLD;
}

static void ll_lookup (fuse_req_t req, fuse_ino_t parent, const char *name) {
  hf_req *r = entry_req(OP_LOOKUP, req, parent, name);
  if (r) to_js(M(req), r);
}

static void forget_one (hf_mount *m, fuse_ino_t ino, uint64_t nlookup) {
  hf_node *n = node_get(&m->tab, ino);
  if (!n || n == m->tab.root) return;
  n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
  node_release(&m->tab, n);
}

static void ll_forget (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  forget_one(m, ino, nlookup);
  pthread_mutex_unlock(&m->lock);
  fuse_reply_none(req);
}

static void ll_forget_multi (fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < count; i++) forget_one(m, forgets[i].ino, forgets[i].nlookup);
  pthread_mutex_unlock(&m->lock);
  fuse_reply_none(req);
}

static void ll_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  // an open file keeps its attributes after an unlink (fstat)
  hf_req *r = ino_req(OP_GETATTR, req, ino, fi != NULL);
  if (r) to_js(M(req), r);
}

static void ll_setattr (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  hf_req *r = ino_req(OP_SETATTR, req, ino, fi != NULL);
  if (!r) return;
  r->to_set = to_set;
  r->mode = attr->st_mode;
  r->uid = attr->st_uid;
  r->gid = attr->st_gid;
  r->size = (uint64_t)attr->st_size;
  if (fi) { r->fh = fi->fh; r->has_fh = 1; }
  // NaN: leave this time as it is (UTIME_OMIT); the kernel sends *_NOW
  // for UTIME_NOW, and the time of this moment is taken here
  r->atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now_ms() : (to_set & FUSE_SET_ATTR_ATIME) ? ts_ms(attr->st_atim) : NAN;
  r->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_ms() : (to_set & FUSE_SET_ATTR_MTIME) ? ts_ms(attr->st_mtim) : NAN;
  to_js(M(req), r);
}

static void ll_readlink (fuse_req_t req, fuse_ino_t ino) {
  hf_req *r = ino_req(OP_READLINK, req, ino, 0);
  if (r) to_js(M(req), r);
}

static void ll_mknod (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  (void)rdev;
  // a drive holds files, folders and symlinks only
  if (!S_ISREG(mode)) { fuse_reply_err(req, EPERM); return; }
  hf_req *r = entry_req(OP_MKNOD, req, parent, name);
  if (!r) return;
  r->mode = mode;
  to_js(M(req), r);
}

static void ll_mkdir (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  hf_req *r = entry_req(OP_MKDIR, req, parent, name);
  if (!r) return;
  r->mode = mode;
  to_js(M(req), r);
}

// The inode of parent/name if it is open (to be hidden rather than removed), else 0.
static fuse_ino_t open_ino (hf_mount *m, fuse_ino_t parent, const char *name) {
  pthread_mutex_lock(&m->lock);
  hf_node *p = node_get(&m->tab, parent);
  hf_node *n = p ? node_child(&m->tab, p, name) : NULL;
  fuse_ino_t ino = n && n->opens > 0 ? n->ino : 0;
  pthread_mutex_unlock(&m->lock);
  return ino;
}

static void ll_unlink (fuse_req_t req, fuse_ino_t parent, const char *name) {
  hf_req *r = entry_req(OP_UNLINK, req, parent, name);
  if (!r) return;
  r->ino2 = open_ino(M(req), parent, name);
  to_js(M(req), r);
}

static void ll_rmdir (fuse_req_t req, fuse_ino_t parent, const char *name) {
  hf_req *r = entry_req(OP_RMDIR, req, parent, name);
  if (r) to_js(M(req), r);
}

static void ll_symlink (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  hf_req *r = entry_req(OP_SYMLINK, req, parent, name);
  if (!r) return;
  r->path2 = dupstr(link);
  to_js(M(req), r);
}

static void ll_rename (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname, unsigned int flags) {
  if (flags & ~RENAME_NOREPLACE) { fuse_reply_err(req, EINVAL); return; }
  if (strlen(newname) > NAME_MAX_BYTES) { fuse_reply_err(req, ENAMETOOLONG); return; }
  hf_req *r = entry_req(OP_RENAME, req, parent, name);
  if (!r) return;
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  hf_node *p = node_get(&m->tab, newparent);
  r->path2 = p && (p->attached || p == m->tab.root) ? node_path(p, newname) : NULL;
  pthread_mutex_unlock(&m->lock);
  if (!r->path2) { fuse_reply_err(req, p ? ENOENT : ESTALE); req_free(r); return; }
  r->ino2 = newparent;
  r->name2 = dupstr(newname);
  r->flags = (int)flags;
  r->fh = open_ino(m, newparent, newname);
  to_js(m, r);
}

static void ll_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  hf_req *r = ino_req(OP_OPEN, req, ino, 0);
  if (!r) return;
  r->flags = fi->flags;
  to_js(M(req), r);
}

static void ll_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  hf_req *r = ino_req(OP_READ, req, ino, 1);
  if (!r) return;
  r->fh = fi->fh;
  r->size = size;
  r->off = off;
  to_js(M(req), r);
}

static void ll_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  // the buffer is libfuse's and is read into again once we return
  char *copy = malloc(size ? size : 1);
  if (!copy) { fuse_reply_err(req, ENOMEM); return; }
  memcpy(copy, buf, size);
  hf_req *r = ino_req(OP_WRITE, req, ino, 1);
  if (!r) { free(copy); return; }
  r->fh = fi->fh;
  r->data = copy;
  r->datalen = size;
  r->off = off;
  to_js(M(req), r);
}

static void fh_req (int op, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int datasync) {
  hf_req *r = ino_req(op, req, ino, 1);
  if (!r) return;
  r->fh = fi->fh;
  r->flags = datasync;
  if (op == OP_RELEASE) {
    // flags 1: the last handle of a hidden file, which goes with it
    hf_mount *m = M(req);
    pthread_mutex_lock(&m->lock);
    hf_node *n = node_get(&m->tab, ino);
    if (n && n->opens > 0 && --n->opens == 0 && n->hidden) r->flags = 1;
    pthread_mutex_unlock(&m->lock);
  }
  to_js(M(req), r);
}

static void ll_flush (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { fh_req(OP_FLUSH, req, ino, fi, 0); }
static void ll_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { fh_req(OP_RELEASE, req, ino, fi, 0); }
static void ll_fsync (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) { fh_req(OP_FSYNC, req, ino, fi, datasync); }

static void dir_free (hf_dir *d) {
  if (!d) return;
  free(d->names);
  free(d->blob);
  free(d->attrs);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

// A stable folder's listing goes into the kernel's cache of the folder, and
// one listed less than LISTING_KEEP_S ago is reused from there (keep_cache):
// `git status` or a second `ls` then reads no listing from JS. The kernel
// drops the cache itself when the folder changes through the mount, and on
// invalidateOnChange()'s invalidation of the folder when it changes
// elsewhere.
static void ll_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  hf_mount *m = M(req);
  pthread_mutex_lock(&m->lock);
  hf_node *n = node_get(&m->tab, ino);
  int cache = n && n->stable;
  int keep = cache && n->listed_at > 0 && now_s() - n->listed_at < LISTING_KEEP_S;
  pthread_mutex_unlock(&m->lock);
  if (!n) { fuse_reply_err(req, ESTALE); return; }
  fi->cache_readdir = cache;
  fi->keep_cache = keep;
  hf_dir *d = calloc(1, sizeof(hf_dir));
  if (!d) { fuse_reply_err(req, ENOMEM); return; }
  pthread_mutex_init(&d->lock, NULL);
  fi->fh = (uint64_t)(uintptr_t)d;
  if (fuse_reply_open(req, fi) == -ENOENT) dir_free(d);
}

static void ll_releasedir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  hf_dir *d = (hf_dir *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&d->lock);
  d->released = 1;
  int last = d->pending == 0;
  pthread_mutex_unlock(&d->lock);
  if (last) dir_free(d);
  fuse_reply_err(req, 0);
}

// JS has answered a listing request; true if d is still in use.
static int dir_unpend (hf_dir *d) {
  pthread_mutex_lock(&d->lock);
  d->pending--;
  int gone = d->released && d->pending == 0;
  pthread_mutex_unlock(&d->lock);
  if (gone) dir_free(d);
  return !gone;
}

// Fills a page of a loaded listing (the caller holds d->lock); NULL when out
// of memory. With plus, each entry but . and .. counts as a lookup of its
// inode, and only entries that fit are counted. The caller answers only
// after it let go of d->lock: once the kernel has the last page it may
// release the folder, which frees d.
static char *dir_page (hf_mount *m, fuse_req_t req, fuse_ino_t ino, hf_dir *d, size_t size, off_t off, int plus, size_t *len) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return NULL;
  size_t pos = 0;
  pthread_mutex_lock(&m->lock);
  hf_node *dir = node_get(&m->tab, ino);
  for (size_t i = off < 0 ? 0 : (size_t)off; dir && i < d->count; i++) {
    const char *name = d->names[i];
    const double *a = d->attrs + i * ATTR_FIELDS;
    int dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    hf_node *n = NULL;
    int fresh = 0;
    if (dots) {
      // the kernel takes no entry for these; d_ino only
      e.attr.st_mode = S_IFDIR;
      e.attr.st_ino = name[1] ? (dir->parent ? dir->parent->ino : FUSE_ROOT_ID) : dir->ino;
    } else {
      uint32_t type = (uint32_t)a[0] & S_IFMT;
      n = node_child(&m->tab, dir, name);
      if (!n || n->type != type) {
        n = node_entry(&m->tab, dir, name, type);
        fresh = 1;
      }
      if (!n) break;
      fill_stat(&e.attr, a, n->ino);
      note_attrs(n, a);
      e.ino = n->ino;
      e.attr_timeout = ttl_of(a, m->attr_timeout);
      e.entry_timeout = ttl_of(a, m->entry_timeout);
    }
    size_t need = plus
      ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)(i + 1))
      : fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)(i + 1));
    if (need > size - pos) {
      if (fresh) node_release(&m->tab, n);
      break;
    }
    pos += need;
    if (plus && n) n->nlookup++;
  }
  pthread_mutex_unlock(&m->lock);
  *len = pos;
  return buf;
}

static void dir_send (fuse_req_t req, char *buf, size_t len) {
  if (!buf) fuse_reply_err(req, ENOMEM);
  else fuse_reply_buf(req, buf, len);
  free(buf);
}

static void readdir_any (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, int plus) {
  hf_mount *m = M(req);
  hf_dir *d = (hf_dir *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&d->lock);
  // the first page (or a rewind) lists anew; later pages come from that listing
  int loaded = d->loaded && off != 0;
  pthread_mutex_unlock(&d->lock);
  if (loaded) {
    size_t len = 0;
    pthread_mutex_lock(&d->lock);
    char *buf = dir_page(m, req, ino, d, size, off, plus, &len);
    pthread_mutex_unlock(&d->lock);
    dir_send(req, buf, len);
    return;
  }
  hf_req *r = ino_req(OP_READDIR, req, ino, 0);
  if (!r) return;
  pthread_mutex_lock(&d->lock);
  d->pending++;
  pthread_mutex_unlock(&d->lock);
  r->dir = d;
  r->size = size;
  r->off = off;
  r->plus = plus;
  to_js(m, r);
}

static void ll_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_any(req, ino, size, off, fi, 0);
}

static void ll_readdirplus (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_any(req, ino, size, off, fi, 1);
}

static void ll_statfs (fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  hf_req *r = ino_req(OP_STATFS, req, FUSE_ROOT_ID, 0);
  if (r) to_js(M(req), r);
}

static void ll_setxattr (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  char *copy = malloc(size ? size : 1);
  if (!copy) { fuse_reply_err(req, ENOMEM); return; }
  memcpy(copy, value, size);
  hf_req *r = ino_req(OP_SETXATTR, req, ino, 0);
  if (!r) { free(copy); return; }
  r->name = dupstr(name);
  r->data = copy;
  r->datalen = size;
  r->flags = flags;
  to_js(M(req), r);
}

// Names the drive cannot hold are answered here: `ls -l` asks every entry
// for security.selinux (and, without kernel ACL support, system.posix_acl_*),
// and the kernel caches no negative answer.
static int xattr_unheld (hf_mount *m, const char *name) {
  for (int i = 0; i < m->n_xattr_prefixes; i++) {
    if (strncmp(name, m->xattr_prefixes[i], strlen(m->xattr_prefixes[i])) == 0) return 1;
  }
  return 0;
}

static void ll_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  if (xattr_unheld(M(req), name)) { fuse_reply_err(req, ENODATA); return; }
  hf_req *r = ino_req(OP_GETXATTR, req, ino, 0);
  if (!r) return;
  r->name = dupstr(name);
  r->size = size;
  to_js(M(req), r);
}

static void ll_listxattr (fuse_req_t req, fuse_ino_t ino, size_t size) {
  hf_req *r = ino_req(OP_LISTXATTR, req, ino, 0);
  if (!r) return;
  r->size = size;
  to_js(M(req), r);
}

static void ll_removexattr (fuse_req_t req, fuse_ino_t ino, const char *name) {
  hf_req *r = ino_req(OP_REMOVEXATTR, req, ino, 0);
  if (!r) return;
  r->name = dupstr(name);
  to_js(M(req), r);
}

static void ll_access (fuse_req_t req, fuse_ino_t ino, int mask) {
  hf_req *r = ino_req(OP_ACCESS, req, ino, 0);
  if (!r) return;
  r->flags = mask;
  to_js(M(req), r);
}

static void ll_create (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  hf_req *r = entry_req(OP_CREATE, req, parent, name);
  if (!r) return;
  r->mode = mode;
  r->flags = fi->flags;
  to_js(M(req), r);
}

static const struct fuse_lowlevel_ops LL_OPS = {
  .init = ll_init,
  .lookup = ll_lookup,
  .forget = ll_forget,
  .forget_multi = ll_forget_multi,
  .getattr = ll_getattr,
  .setattr = ll_setattr,
  .readlink = ll_readlink,
  .mknod = ll_mknod,
  .mkdir = ll_mkdir,
  .unlink = ll_unlink,
  .rmdir = ll_rmdir,
  .symlink = ll_symlink,
  .rename = ll_rename,
  .open = ll_open,
  .read = ll_read,
  .write = ll_write,
  .flush = ll_flush,
  .release = ll_release,
  .fsync = ll_fsync,
  .opendir = ll_opendir,
  .readdir = ll_readdir,
  .readdirplus = ll_readdirplus,
  .releasedir = ll_releasedir,
  .statfs = ll_statfs,
  .setxattr = ll_setxattr,
  .getxattr = ll_getxattr,
  .listxattr = ll_listxattr,
  .removexattr = ll_removexattr,
  .access = ll_access,
  .create = ll_create
};

// ---- the JS side of the thread-safe function (on the JS thread)

static void call_js (napi_env env, napi_value js_cb, void *context, void *data) {
  hf_mount *m = context;
  hf_req *r = data;
  r->queued = 0;
  if (env == NULL || r->answered) {
    // the function is going away with this request still queued, or the
    // mount is gone and the kernel had its answer
    if (r->req && !r->answered && slot_take(m, slot_id(r))) fuse_reply_err(r->req, EIO);
    req_free(r);
    return;
  }
  napi_value argv[MAX_ARGS], undef, global;
  napi_get_undefined(env, &undef);
  napi_get_global(env, &global);
  for (int i = 0; i < MAX_ARGS; i++) argv[i] = undef;
  size_t argc = 3;
  napi_create_int32(env, r->op, &argv[0]);
  if (r->op == OP_NOTIFY_DONE) {
    napi_create_double(env, r->notify_id, &argv[1]);
    napi_create_int32(env, r->err, &argv[2]);
  } else if (r->op == OP_EXIT) {
    argc = 1;
  } else {
    napi_create_double(env, slot_id(r), &argv[1]);
    napi_create_string_utf8(env, r->path, NAPI_AUTO_LENGTH, &argv[2]);
  }
  switch (r->op) {
    case OP_SETATTR:
      napi_create_int32(env, r->to_set, &argv[3]);
      napi_create_uint32(env, r->mode, &argv[4]);
      napi_create_uint32(env, (r->to_set & FUSE_SET_ATTR_UID) ? r->uid : UINT32_MAX, &argv[5]);
      napi_create_uint32(env, (r->to_set & FUSE_SET_ATTR_GID) ? r->gid : UINT32_MAX, &argv[6]);
      napi_create_double(env, (double)r->size, &argv[7]);
      napi_create_double(env, r->atime, &argv[8]);
      napi_create_double(env, r->mtime, &argv[9]);
      // the handle, when the change came through one (ftruncate); -1: none
      napi_create_double(env, r->has_fh ? (double)r->fh : -1, &argv[10]);
      argc = 11;
      break;
    case OP_MKNOD: case OP_MKDIR: case OP_CREATE:
      napi_create_uint32(env, r->mode, &argv[3]);
      napi_create_int32(env, r->flags, &argv[4]);
      argc = 5;
      break;
    case OP_SYMLINK:
      napi_create_string_utf8(env, r->path2, NAPI_AUTO_LENGTH, &argv[3]);
      argc = 4;
      break;
    case OP_RENAME:
      napi_create_string_utf8(env, r->path2, NAPI_AUTO_LENGTH, &argv[3]);
      napi_create_int32(env, r->flags, &argv[4]);
      // the target's inode if it is open (hide it, do not replace it), else 0
      napi_create_double(env, (double)r->fh, &argv[5]);
      argc = 6;
      break;
    case OP_UNLINK:
      // the inode if it is open (hide it, do not remove it), else 0
      napi_create_double(env, (double)r->ino2, &argv[3]);
      argc = 4;
      break;
    case OP_OPEN: case OP_ACCESS:
      napi_create_int32(env, r->flags, &argv[3]);
      argc = 4;
      break;
    case OP_READ:
      napi_create_double(env, (double)r->fh, &argv[3]);
      napi_create_double(env, (double)r->size, &argv[4]);
      napi_create_double(env, (double)r->off, &argv[5]);
      argc = 6;
      break;
    case OP_WRITE: {
      void *copy;
      napi_create_double(env, (double)r->fh, &argv[3]);
      napi_create_buffer_copy(env, r->datalen, r->data, &copy, &argv[4]);
      napi_create_double(env, (double)r->off, &argv[5]);
      argc = 6;
      break;
    }
    case OP_FLUSH: case OP_RELEASE: case OP_FSYNC:
      napi_create_double(env, (double)r->fh, &argv[3]);
      napi_create_int32(env, r->flags, &argv[4]);
      argc = 5;
      break;
    case OP_SETXATTR: {
      void *copy;
      napi_create_string_utf8(env, r->name, NAPI_AUTO_LENGTH, &argv[3]);
      napi_create_buffer_copy(env, r->datalen, r->data, &copy, &argv[4]);
      napi_create_int32(env, r->flags, &argv[5]);
      argc = 6;
      break;
    }
    case OP_GETXATTR: case OP_REMOVEXATTR:
      napi_create_string_utf8(env, r->name, NAPI_AUTO_LENGTH, &argv[3]);
      argc = 4;
      break;
    default:
      break;
  }
  // once JS has the request it may answer (and free it) before the call returns
  fuse_req_t req = r->req;
  double id = req ? slot_id(r) : -1;
  if (!req) {
    napi_status st = napi_call_function(env, global, js_cb, argc, argv, NULL);
    req_free(r);
    if (st == napi_ok) return;
  } else {
    if (r->op == OP_WRITE || r->op == OP_SETXATTR) {
      free(r->data);
      r->data = NULL;
    }
    if (napi_call_function(env, global, js_cb, argc, argv, NULL) == napi_ok) return;
    // the dispatcher threw: the kernel must still get its one answer
    hf_req *left = slot_take(m, id);
    if (left) {
      fuse_reply_err(req, EIO);
      req_free(left);
    }
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

// ---- replies from JS (on the JS thread)

typedef struct {
  napi_env env;
  size_t argc;
  napi_value argv[6];
  hf_mount *m;
} hf_args;

static int get_args (napi_env env, napi_callback_info info, hf_args *a) {
  a->env = env;
  a->argc = 6;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok || a->argc < 1) return -1;
  void *p = NULL;
  if (napi_get_value_external(env, a->argv[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "hyperfs_fuse: not a mount handle");
    return -1;
  }
  a->m = p;
  return 0;
}

static double arg_num (hf_args *a, size_t i) {
  double v = NAN;
  if (i < a->argc) napi_get_value_double(a->env, a->argv[i], &v);
  return v;
}

// The request an answer is for; NULL (and nothing to do) when it was answered already.
static hf_req *take (hf_args *a) {
  return slot_take(a->m, arg_num(a, 1));
}

static const double *arg_attrs (hf_args *a, size_t i, size_t min) {
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (i >= a->argc || napi_get_typedarray_info(a->env, a->argv[i], &type, &len, &data, NULL, NULL) != napi_ok) return NULL;
  if (type != napi_float64_array || len < min) return NULL;
  return data;
}

// The attributes an answer must carry; NULL, with a TypeError thrown, when they are missing.
static const double *need_attrs (hf_args *a, size_t i) {
  const double *at = arg_attrs(a, i, ATTR_FIELDS);
  if (!at) napi_throw_type_error(a->env, NULL, "hyperfs_fuse: attributes must be a Float64Array");
  return at;
}

static napi_value ret_bool (napi_env env, bool v) {
  napi_value out;
  napi_get_boolean(env, v, &out);
  return out;
}

// Records a reply's attributes as the content seen by the kernel, and says
// whether pages cached from before may be kept: only if nothing about the
// content changed (size, mtime, ctime: a drive writes a new ctime with every change).
static int seen_same (hf_node *n, const double *a) {
  int same = n->seen && n->seen_size == a[3] && n->seen_mtime == a[8] && n->seen_ctime == a[9];
  n->seen = 1;
  n->seen_size = a[3];
  n->seen_mtime = a[8];
  n->seen_ctime = a[9];
  return same;
}

static char *arg_string (hf_args *a, size_t i);

// Puts a detached node back under a hidden name in the same folder.
static void hide (hf_table *t, hf_node *n, const char *name) {
  char *copy = dupstr(name);
  if (!copy) { node_release(t, n); return; }
  free(n->name);
  n->name = copy;
  n->hidden = 1;
  attach(t, n);
}

// replyErr(h, id, errno): the answer of an op that returns no data, or its
// failure (errno > 0). Successful unlink, rmdir and rename update the table.
static napi_value reply_err (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  int err = (int)arg_num(&a, 2);
  // a fourth argument: the hidden name the open target was moved to
  char *hidden = a.argc > 3 ? arg_string(&a, 3) : NULL;
  hf_mount *m = a.m;
  if (r->op == OP_READDIR) dir_unpend(r->dir);
  if (err == 0 && r->op == OP_RELEASE && r->flags == 1) {
    // the hidden file is gone with its last handle
    pthread_mutex_lock(&m->lock);
    hf_node *n = node_get(&m->tab, r->ino);
    if (n && n->hidden && n->opens == 0) {
      detach(&m->tab, n);
      node_release(&m->tab, n);
    }
    pthread_mutex_unlock(&m->lock);
  }
  if (err == 0 && (r->op == OP_UNLINK || r->op == OP_RMDIR || r->op == OP_RENAME)) {
    pthread_mutex_lock(&m->lock);
    hf_node *parent = node_get(&m->tab, r->ino);
    hf_node *n = parent ? node_child(&m->tab, parent, r->name) : NULL;
    if (r->op == OP_RENAME) {
      hf_node *np = node_get(&m->tab, r->ino2);
      hf_node *target = np ? node_child(&m->tab, np, r->name2) : NULL;
      if (target && target != n) {
        detach(&m->tab, target);
        if (hidden) hide(&m->tab, target, hidden);
        else node_release(&m->tab, target);
      }
      if (n) {
        detach(&m->tab, n);
        char *name = dupstr(r->name2);
        if (np && name) {
          free(n->name);
          n->name = name;
          np->refs++;
          n->parent = np;
          attach(&m->tab, n);
          parent->refs--;
          node_release(&m->tab, parent);
        } else {
          free(name);
          node_release(&m->tab, n);
        }
      }
    } else if (n) {
      detach(&m->tab, n);
      if (hidden && r->op == OP_UNLINK) hide(&m->tab, n, hidden);
      else node_release(&m->tab, n);
    }
    pthread_mutex_unlock(&m->lock);
  }
  free(hidden);
  if (err == ENOENT && r->op == OP_LOOKUP && m->negative_timeout > 0) {
    // a negative entry: the kernel remembers the name is free for a while
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.entry_timeout = m->negative_timeout;
    fuse_reply_entry(r->req, &e);
  } else {
    fuse_reply_err(r->req, err);
  }
  req_free(r);
  return ret_bool(env, true);
}

// The node a lookup-like answer (lookup, mkdir, create...) names, counted as
// looked up, and as open when `opening` (before the answer, as in replyOpen),
// with its attributes and timeouts in `e`. Without its parent any more, the
// request is answered with an error here and NULL comes back.
static hf_node *entry_take (hf_mount *m, hf_req *r, const double *at, struct fuse_entry_param *e, int opening) {
  pthread_mutex_lock(&m->lock);
  hf_node *parent = node_get(&m->tab, r->ino);
  hf_node *n = parent ? node_entry(&m->tab, parent, r->name, (uint32_t)at[0] & S_IFMT) : NULL;
  if (n) {
    n->nlookup++;
    e->ino = n->ino;
    fill_stat(&e->attr, at, n->ino);
    note_attrs(n, at);
    if (opening) {
      n->opens++;
      seen_same(n, at);
    }
  }
  pthread_mutex_unlock(&m->lock);
  if (!n) {
    fuse_reply_err(r->req, parent ? ENOMEM : ESTALE);
    return NULL;
  }
  e->attr_timeout = ttl_of(at, m->attr_timeout);
  e->entry_timeout = ttl_of(at, m->entry_timeout);
  return n;
}

// The kernel did not take the answer (its caller was interrupted): undo what
// entry_take counted.
static void entry_undo (hf_mount *m, fuse_ino_t ino, int opening) {
  pthread_mutex_lock(&m->lock);
  hf_node *n = node_get(&m->tab, ino);
  if (n) {
    if (opening && n->opens > 0) n->opens--;
    n->nlookup--;
    node_release(&m->tab, n);
  }
  pthread_mutex_unlock(&m->lock);
}

// replyEntry(h, id, attrs): lookup, mkdir, mknod, symlink.
static napi_value reply_entry (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  const double *at = need_attrs(&a, 2);
  if (!at) return NULL;
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  struct fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  if (entry_take(a.m, r, at, &e, 0) && fuse_reply_entry(r->req, &e) != 0) entry_undo(a.m, e.ino, 0);
  req_free(r);
  return ret_bool(env, true);
}

// replyAttr(h, id, attrs): getattr, setattr.
static napi_value reply_attr (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  const double *at = need_attrs(&a, 2);
  if (!at) return NULL;
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  struct stat st;
  fill_stat(&st, at, r->ino);
  pthread_mutex_lock(&a.m->lock);
  note_attrs(node_get(&a.m->tab, r->ino), at);
  pthread_mutex_unlock(&a.m->lock);
  fuse_reply_attr(r->req, &st, ttl_of(at, a.m->attr_timeout));
  req_free(r);
  return ret_bool(env, true);
}

// replyOpen(h, id, fh, attrs): open. The pages the kernel holds for this
// inode stay only if the content is the one it saw at the last open.
static napi_value reply_open (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  const double *at = arg_attrs(&a, 3, ATTR_FIELDS);
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  hf_mount *m = a.m;
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof(fi));
  fi.fh = (uint64_t)arg_num(&a, 2);
  fi.flags = r->flags;
  pthread_mutex_lock(&m->lock);
  hf_node *n = node_get(&m->tab, r->ino);
  int seen = n && n->seen;
  int same = n && at ? seen_same(n, at) : 0;
  // counted before the answer: the release may come the moment the kernel has it
  if (n) n->opens++;
  pthread_mutex_unlock(&m->lock);
  fi.keep_cache = m->kernel_cache || same;
  // A close of a file opened read-only sends no FLUSH: the filesystem has
  // nothing to commit for it (it holds no POSIX locks either), and each
  // FLUSH is a round trip to JS that close() waits for.
  fi.noflush = (r->flags & O_ACCMODE) == O_RDONLY;
  // Changed since the kernel last looked: its pages go (keep_cache 0), and
  // so must its cached size, or a reader would stop at the old end. Dropping
  // attributes only (offset -1) locks no page, so it cannot wait on a read
  // that waits on this thread.
  if (seen && !same && m->se) fuse_lowlevel_notify_inval_inode(m->se, r->ino, -1, 0);
  if (fuse_reply_open(r->req, &fi) != 0) {
    pthread_mutex_lock(&m->lock);
    hf_node *again = node_get(&m->tab, r->ino);
    if (again && again->opens > 0) again->opens--;
    pthread_mutex_unlock(&m->lock);
  }
  req_free(r);
  return ret_bool(env, true);
}

// replyCreate(h, id, fh, attrs): create.
static napi_value reply_create (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  const double *at = need_attrs(&a, 3);
  if (!at) return NULL;
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  hf_mount *m = a.m;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof(fi));
  fi.fh = (uint64_t)arg_num(&a, 2);
  fi.flags = r->flags;
  if (entry_take(m, r, at, &e, 1) && fuse_reply_create(r->req, &e, &fi) != 0) entry_undo(m, e.ino, 1);
  req_free(r);
  return ret_bool(env, true);
}

// replyData(h, id, buffer, length): read.
static napi_value reply_data (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (a.argc < 3 || napi_get_buffer_info(env, a.argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hyperfs_fuse: data must be a Buffer");
    return NULL;
  }
  double n = arg_num(&a, 3);
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  size_t count = n >= 0 && n <= (double)len ? (size_t)n : 0;
  if (count > r->size) count = r->size;
  fuse_reply_buf(r->req, data, count);
  req_free(r);
  return ret_bool(env, true);
}

// replyWrite(h, id, count): write.
static napi_value reply_write (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  double n = arg_num(&a, 2);
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  fuse_reply_write(r->req, n >= 0 ? (size_t)n : 0);
  req_free(r);
  return ret_bool(env, true);
}

static char *arg_string (hf_args *a, size_t i) {
  size_t len = 0;
  if (i >= a->argc || napi_get_value_string_utf8(a->env, a->argv[i], NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(a->env, a->argv[i], s, len + 1, &len);
  return s;
}

// replyReadlink(h, id, target): readlink.
static napi_value reply_readlink (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  char *target = arg_string(&a, 2);
  hf_req *r = take(&a);
  if (!r) { free(target); return ret_bool(env, false); }
  if (target) fuse_reply_readlink(r->req, target);
  else fuse_reply_err(r->req, EIO);
  free(target);
  req_free(r);
  return ret_bool(env, true);
}

// replyStatfs(h, id, Float64Array [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax]).
static napi_value reply_statfs (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  const double *v = arg_attrs(&a, 2, 11);
  if (!v) { napi_throw_type_error(env, NULL, "hyperfs_fuse: statfs must be a Float64Array of 11"); return NULL; }
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  struct statvfs st;
  memset(&st, 0, sizeof(st));
  st.f_bsize = (unsigned long)v[0];
  st.f_frsize = (unsigned long)v[1];
  st.f_blocks = (fsblkcnt_t)v[2];
  st.f_bfree = (fsblkcnt_t)v[3];
  st.f_bavail = (fsblkcnt_t)v[4];
  st.f_files = (fsfilcnt_t)v[5];
  st.f_ffree = (fsfilcnt_t)v[6];
  st.f_favail = (fsfilcnt_t)v[7];
  st.f_fsid = (unsigned long)v[8];
  st.f_flag = (unsigned long)v[9];
  st.f_namemax = (unsigned long)v[10];
  fuse_reply_statfs(r->req, &st);
  req_free(r);
  return ret_bool(env, true);
}

// replyXattr(h, id, buffer | null): getxattr (a value) and listxattr (the
// names, each ending in a NUL). Size 0 asks for the length; a buffer too
// small gets ERANGE, as the xattr calls promise.
static napi_value reply_xattr (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool is_buf = false;
  if (a.argc >= 3) napi_is_buffer(env, a.argv[2], &is_buf);
  if (is_buf) napi_get_buffer_info(env, a.argv[2], &data, &len);
  hf_req *r = take(&a);
  if (!r) return ret_bool(env, false);
  if (!is_buf) fuse_reply_err(r->req, ENODATA);
  else if (r->size == 0) fuse_reply_xattr(r->req, len);
  else if (len > r->size) fuse_reply_err(r->req, ERANGE);
  else fuse_reply_buf(r->req, data, len);
  req_free(r);
  return ret_bool(env, true);
}

// replyDir(h, id, names, attrs): a listing, names joined by '/' (which no
// name holds) and ATTR_FIELDS numbers per name. It is kept with the open
// folder, and this and later pages are answered from it.
static napi_value reply_dir (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  char *blob = arg_string(&a, 2);
  napi_typedarray_type type;
  size_t alen = 0;
  void *adata = NULL;
  if (!blob || a.argc < 4 || napi_get_typedarray_info(env, a.argv[3], &type, &alen, &adata, NULL, NULL) != napi_ok || type != napi_float64_array) {
    free(blob);
    napi_throw_type_error(env, NULL, "hyperfs_fuse: replyDir(h, id, names, Float64Array)");
    return NULL;
  }
  hf_req *r = take(&a);
  if (!r) { free(blob); return ret_bool(env, false); }
  size_t count = blob[0] ? 1 : 0;
  for (char *p = blob; *p; p++) if (*p == '/') count++;
  if (alen < count * ATTR_FIELDS) {
    free(blob);
    fuse_reply_err(r->req, EIO);
    req_free(r);
    napi_throw_range_error(env, NULL, "hyperfs_fuse: fewer attributes than names");
    return NULL;
  }
  char **names = malloc((count ? count : 1) * sizeof(char *));
  double *attrs = malloc((count ? count : 1) * ATTR_FIELDS * sizeof(double));
  if (!names || !attrs) {
    free(blob); free(names); free(attrs);
    fuse_reply_err(r->req, ENOMEM);
    req_free(r);
    return ret_bool(env, true);
  }
  size_t i = 0;
  if (count) {
    names[i++] = blob;
    for (char *p = blob; *p; p++) if (*p == '/') { *p = 0; names[i++] = p + 1; }
  }
  memcpy(attrs, adata, count * ATTR_FIELDS * sizeof(double));
  hf_dir *d = r->dir;
  pthread_mutex_lock(&d->lock);
  d->pending--;
  if (d->released) {
    // the reader is gone (killed while it waited)
    int last = d->pending == 0;
    pthread_mutex_unlock(&d->lock);
    if (last) dir_free(d);
    free(blob); free(names); free(attrs);
    fuse_reply_err(r->req, EBADF);
    req_free(r);
    return ret_bool(env, true);
  }
  free(d->names); free(d->blob); free(d->attrs);
  d->names = names;
  d->blob = blob;
  d->attrs = attrs;
  d->count = count;
  d->loaded = 1;
  pthread_mutex_lock(&a.m->lock);
  hf_node *folder = node_get(&a.m->tab, r->ino);
  if (folder) folder->listed_at = now_s();
  pthread_mutex_unlock(&a.m->lock);
  size_t plen = 0;
  char *page = dir_page(a.m, r->req, r->ino, d, r->size, r->off, r->plus, &plen);
  pthread_mutex_unlock(&d->lock);
  dir_send(r->req, page, plen);
  req_free(r);
  return ret_bool(env, true);
}

// ---- notifications (queued by JS, sent by the notifier thread)

static void *notify_main (void *arg) {
  hf_mount *m = arg;
  for (;;) {
    pthread_mutex_lock(&m->notify_lock);
    while (!m->notify_head && !m->notify_stop) pthread_cond_wait(&m->notify_cond, &m->notify_lock);
    hf_req *r = m->notify_head;
    if (r) {
      m->notify_head = r->next;
      if (!m->notify_head) m->notify_tail = NULL;
    }
    int stop = m->notify_stop;
    pthread_mutex_unlock(&m->notify_lock);
    if (!r) {
      if (stop) break;
      continue;
    }
    if (stop || m->exited) r->err = ENOTCONN;
    else if (r->notify_kind == 1) r->err = -fuse_lowlevel_notify_inval_inode(m->se, r->ino, 0, 0);
    else r->err = -fuse_lowlevel_notify_inval_entry(m->se, r->ino, r->name, strlen(r->name));
    // ENOENT: the kernel no longer holds it, which is what we wanted
    if (r->err == ENOENT) r->err = 0;
    r->queued = 1;
    if (napi_call_threadsafe_function(m->tsfn, r, napi_tsfn_nonblocking) != napi_ok) req_free(r);
  }
  return NULL;
}

// The inode the kernel holds for a path, or NULL.
static hf_node *resolve_path (hf_mount *m, const char *path) {
  hf_node *n = m->tab.root;
  const char *p = path;
  char name[NAME_MAX_BYTES + 1];
  while (n && *p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > NAME_MAX_BYTES) return NULL;
    memcpy(name, p, len);
    name[len] = 0;
    n = node_child(&m->tab, n, name);
    p += len;
  }
  return n;
}

// notify(h, kind, path, name, id): kind 1 drops the cached attributes and
// pages of path; kind 2 drops the cached entry name in folder path. Returns
// false when the kernel holds nothing for it (no notification is sent; id
// gets no answer), true when the answer will come as OP_NOTIFY_DONE with id.
static napi_value notify (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  hf_mount *m = a.m;
  int kind = (int)arg_num(&a, 1);
  char *path = arg_string(&a, 2);
  char *name = kind == 2 ? arg_string(&a, 3) : NULL;
  double id = arg_num(&a, 4);
  if (!path || (kind == 2 && !name) || (kind != 1 && kind != 2) || m->closed || m->exited) {
    free(path); free(name);
    return ret_bool(env, false);
  }
  pthread_mutex_lock(&m->lock);
  hf_node *n = resolve_path(m, path);
  uint64_t ino = n ? n->ino : 0;
  // an entry the kernel has no inode for may still sit in its cache as a
  // negative entry, so a known folder is enough
  pthread_mutex_unlock(&m->lock);
  free(path);
  if (!ino) { free(name); return ret_bool(env, false); }
  hf_req *r = req_new(OP_NOTIFY_DONE, NULL);
  if (!r) { free(name); return ret_bool(env, false); }
  r->notify_kind = kind;
  r->ino = ino;
  r->name = name;
  r->notify_id = id;
  pthread_mutex_lock(&m->notify_lock);
  if (m->notify_tail) m->notify_tail->next = r;
  else m->notify_head = r;
  m->notify_tail = r;
  pthread_cond_signal(&m->notify_cond);
  pthread_mutex_unlock(&m->notify_lock);
  return ret_bool(env, true);
}

// ---- libfuse's messages

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[MOUNT_LOG_MAX];
static size_t log_len;
static pthread_t log_capturer;
static int log_capturing;

static void hf_log (enum fuse_log_level level, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  pthread_mutex_lock(&log_lock);
  if (log_capturing && pthread_equal(log_capturer, pthread_self())) {
    size_t n = strlen(line);
    if (log_len + n >= MOUNT_LOG_MAX) n = MOUNT_LOG_MAX - 1 - log_len;
    memcpy(log_buf + log_len, line, n);
    log_len += n;
    log_buf[log_len] = 0;
    pthread_mutex_unlock(&log_lock);
    return;
  }
  pthread_mutex_unlock(&log_lock);
  if (level <= FUSE_LOG_WARNING) fprintf(stderr, "[hyperfs fuse] libfuse: %s", line);
}

static void capture_start (void) {
  pthread_mutex_lock(&log_lock);
  log_len = 0;
  log_buf[0] = 0;
  log_capturer = pthread_self();
  log_capturing = 1;
  pthread_mutex_unlock(&log_lock);
}

// What libfuse said since capture_start, on one line.
static void capture_stop (char *out, size_t size) {
  pthread_mutex_lock(&log_lock);
  log_capturing = 0;
  size_t j = 0;
  for (size_t i = 0; i < log_len && j + 1 < size; i++) {
    char c = log_buf[i] == '\n' ? ';' : log_buf[i];
    if (c == ';' && (i + 1 == log_len)) break;
    out[j++] = c;
  }
  out[j] = 0;
  pthread_mutex_unlock(&log_lock);
}

// ---- mount and unmount

static void *loop_main (void *arg) {
  hf_mount *m = arg;
  sigset_t all;
  sigfillset(&all);
  // signals are node's to handle, on its own thread
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_idle_threads(cfg, MAX_IDLE_THREADS);
  fuse_loop_cfg_set_max_threads(cfg, MAX_THREADS);
  fuse_session_loop_mt(m->se, cfg);
  fuse_loop_cfg_destroy(cfg);
  m->exited = 1;
  hf_req *r = req_new(OP_EXIT, NULL);
  if (r) {
    r->queued = 1;
    if (napi_call_threadsafe_function(m->tsfn, r, napi_tsfn_nonblocking) != napi_ok) req_free(r);
  }
  return NULL;
}

static napi_value throw_mount_error (napi_env env, const char *mnt, int err, const char *reason) {
  char msg[MOUNT_LOG_MAX + 512];
  snprintf(msg, sizeof(msg), "cannot mount at %s: %s", mnt, reason);
  napi_value m, code, e, errnum, why;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, "FUSE_FAILED", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_create_int32(env, err, &errnum);
  napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &why);
  napi_set_named_property(env, e, "errno", errnum);
  napi_set_named_property(env, e, "reason", why);
  napi_throw(env, e);
  return NULL;
}

// Why a mount would fail, found before libfuse tries: it only logs its
// reasons, and a mount over files silently hides them.
static int check_mountpoint (const char *mnt, int non_empty, char *why, size_t size) {
  struct stat st;
  if (stat(mnt, &st) != 0) {
    int e = errno;
    if (e == ENOTCONN) snprintf(why, size, "a dead FUSE mount is still attached there (fusermount3 -uz it)");
    else if (e == ENOENT) snprintf(why, size, "mountpoint does not exist");
    else snprintf(why, size, "cannot stat the mountpoint: %s", strerror(e));
    return e;
  }
  if (!S_ISDIR(st.st_mode)) { snprintf(why, size, "mountpoint is not a directory"); return ENOTDIR; }
  if (!non_empty) {
    DIR *d = opendir(mnt);
    if (!d) { int e = errno; snprintf(why, size, "cannot list the mountpoint: %s", strerror(e)); return e; }
    struct dirent *de;
    int entries = 0;
    while ((de = readdir(d))) if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) entries++;
    closedir(d);
    if (entries) { snprintf(why, size, "mountpoint is not empty (%d entr%s)", entries, entries == 1 ? "y" : "ies"); return ENOTEMPTY; }
  }
  // root opens the device itself; a user goes through setuid fusermount3
  if (geteuid() == 0) {
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENODEV || e == ENXIO) snprintf(why, size, "/dev/fuse is missing (load the fuse module, or give the container the device)");
      else if (e == EACCES || e == EPERM) snprintf(why, size, "no permission to open /dev/fuse");
      else snprintf(why, size, "cannot open /dev/fuse: %s", strerror(e));
      return e;
    }
    close(fd);
  }
  return 0;
}

static int opt_bool (napi_env env, napi_value obj, const char *key) {
  napi_value v;
  bool b = false;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok) napi_get_value_bool(env, v, &b);
  return b;
}

static double opt_num (napi_env env, napi_value obj, const char *key, double def) {
  napi_value v;
  double d = def;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_number) napi_get_value_double(env, v, &d);
  }
  return d;
}

static void mount_free (hf_mount *m) {
  if (m->se) fuse_session_destroy(m->se);
  table_free(&m->tab);
  free(m->slots);
  for (int i = 0; i < m->n_xattr_prefixes; i++) free(m->xattr_prefixes[i]);
  free(m->mountpoint);
  pthread_mutex_destroy(&m->lock);
  pthread_mutex_destroy(&m->slot_lock);
  pthread_mutex_destroy(&m->notify_lock);
  pthread_cond_destroy(&m->notify_cond);
  free(m);
}

static void handle_finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  hf_mount *m = data;
  // a mount still running keeps its memory: its threads use it
  if (m->closed && !m->orphaned) mount_free(m);
}

static void tsfn_finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)data; (void)hint;
}

static int mount_dev (const char *mnt, unsigned *major_out);

// The kernel reads ahead at most read_ahead_kb of its bdi, 128 KiB unless
// told, whatever max_readahead we answer at init: so reads would never use
// the 1 MiB requests. Root may raise it; others keep the default.
static void raise_readahead (const char *mnt) {
  unsigned major = 0;
  int minor = mount_dev(mnt, &major);
  if (minor < 0 || geteuid() != 0) return;
  char p[128], v[32];
  snprintf(p, sizeof(p), "/sys/class/bdi/%u:%d/read_ahead_kb", major, minor);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  int n = snprintf(v, sizeof(v), "%d", MAX_READAHEAD / 1024);
  ssize_t w = write(fd, v, (size_t)n);
  (void)w;
  close(fd);
}

// mount(mountpoint, options, dispatch) -> handle. Throws an Error with code
// FUSE_FAILED, errno and reason when the kernel does not take the mount.
static napi_value js_mount (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "mount(mountpoint, options, dispatch)"); return NULL; }
  char mnt[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], mnt, sizeof(mnt), &len) != napi_ok) { napi_throw_type_error(env, NULL, "mountpoint must be a string"); return NULL; }
  napi_value opts = argv[1];
  int debug = opt_bool(env, opts, "debug");
  int non_empty = opt_bool(env, opts, "nonEmpty");
  char why[MOUNT_LOG_MAX];
  int err = check_mountpoint(mnt, non_empty, why, sizeof(why));
  if (err) return throw_mount_error(env, mnt, err, why);

  hf_mount *m = calloc(1, sizeof(hf_mount));
  if (!m) return throw_mount_error(env, mnt, ENOMEM, "out of memory");
  pthread_mutex_init(&m->lock, NULL);
  pthread_mutex_init(&m->slot_lock, NULL);
  pthread_mutex_init(&m->notify_lock, NULL);
  pthread_cond_init(&m->notify_cond, NULL);
  table_init(&m->tab);
  m->free_head = NO_SLOT;
  m->mountpoint = dupstr(mnt);
  m->entry_timeout = opt_num(env, opts, "entryTimeout", 1);
  m->attr_timeout = opt_num(env, opts, "attrTimeout", 1);
  m->negative_timeout = opt_num(env, opts, "negativeTimeout", 0);
  m->kernel_cache = opt_bool(env, opts, "kernelCache");
  napi_value prefixes;
  bool is_array = false;
  if (napi_get_named_property(env, opts, "xattrUnheld", &prefixes) == napi_ok && napi_is_array(env, prefixes, &is_array) == napi_ok && is_array) {
    uint32_t n = 0;
    napi_get_array_length(env, prefixes, &n);
    for (uint32_t i = 0; i < n && m->n_xattr_prefixes < MAX_XATTR_PREFIXES; i++) {
      napi_value v;
      char buf[64];
      size_t l;
      napi_get_element(env, prefixes, i, &v);
      if (napi_get_value_string_utf8(env, v, buf, sizeof(buf), &l) == napi_ok && l > 0) m->xattr_prefixes[m->n_xattr_prefixes++] = dupstr(buf);
    }
  }

  char fsopts[256];
  snprintf(fsopts, sizeof(fsopts), "fsname=hyperfs,subtype=hyperfs,max_read=%d%s", MAX_WRITE, opt_bool(env, opts, "allowOther") ? ",allow_other" : "");
  char *args_v[] = { "hyperfs", "-o", fsopts, debug ? "-d" : NULL, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, args_v);
  capture_start();
  m->se = fuse_session_new(&args, &LL_OPS, sizeof(LL_OPS), m);
  if (!m->se) {
    capture_stop(why, sizeof(why));
    fuse_opt_free_args(&args);
    mount_free(m);
    return throw_mount_error(env, mnt, EINVAL, why[0] ? why : "libfuse refused the options");
  }
  fuse_opt_free_args(&args);
  errno = 0;
  if (fuse_session_mount(m->se, mnt) != 0) {
    int e = errno ? errno : EIO;
    capture_stop(why, sizeof(why));
    mount_free(m);
    return throw_mount_error(env, mnt, e, why[0] ? why : strerror(e));
  }
  capture_stop(why, sizeof(why));

  napi_value name;
  napi_create_string_utf8(env, "hyperfs_fuse", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, tsfn_finalize, m, call_js, &m->tsfn) != napi_ok) {
    fuse_session_unmount(m->se);
    mount_free(m);
    return throw_mount_error(env, mnt, EIO, "cannot create the thread-safe function");
  }
  if (pthread_create(&m->notify_thread, NULL, notify_main, m) == 0) m->notify_started = 1;
  if (pthread_create(&m->loop_thread, NULL, loop_main, m) != 0) {
    int e = errno;
    fuse_session_unmount(m->se);
    m->notify_stop = 1;
    pthread_cond_signal(&m->notify_cond);
    if (m->notify_started) pthread_join(m->notify_thread, NULL);
    napi_release_threadsafe_function(m->tsfn, napi_tsfn_abort);
    mount_free(m);
    return throw_mount_error(env, mnt, e, "cannot start the session thread");
  }
  m->loop_started = 1;
  napi_value handle;
  CHECK(napi_create_external(env, m, handle_finalize, NULL, &handle));
  return handle;
}

// The device number of our mount: its minor names the connection in
// /sys/fs/fuse/connections, both name its bdi. Read from mountinfo: a stat
// of the mount point would be a request to this very process.
static int mount_dev (const char *mnt, unsigned *major_out) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return -1;
  char line[8192];
  int found = -1;
  while (fgets(line, sizeof(line), f)) {
    unsigned major, minor;
    char point[4096];
    if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, point) != 3) continue;
    // mountinfo escapes space, tab, newline and backslash as \ooo
    char un[4096];
    size_t j = 0;
    for (size_t i = 0; point[i] && j + 1 < sizeof(un); i++) {
      if (point[i] == '\\' && point[i + 1] && point[i + 2] && point[i + 3]) {
        un[j++] = (char)((point[i + 1] - '0') * 64 + (point[i + 2] - '0') * 8 + (point[i + 3] - '0'));
        i += 3;
      } else un[j++] = point[i];
    }
    un[j] = 0;
    if (strcmp(un, mnt) == 0 && strstr(line, " - fuse")) {
      found = (int)minor;
      if (major_out) *major_out = major;
    }
  }
  fclose(f);
  return found;
}

typedef struct {
  hf_mount *m;
  napi_deferred deferred;
  napi_async_work work;
  int conn;
  int orphaned; // the session loop did not end
} hf_unmount;

#define FUSECTL "/sys/fs/fuse/connections"

// Aborts the kernel connection of a mount: every request gets ENOTCONN and
// the session loop ends. Needs fusectl, mounted here for the moment if the
// system has not (root only).
static int abort_connection (int conn) {
  if (conn < 0) return -1;
  char p[128];
  snprintf(p, sizeof(p), FUSECTL "/%d/abort", conn);
  int mounted_here = 0;
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && geteuid() == 0 && mount("fusectl", FUSECTL, "fusectl", 0, NULL) == 0) {
    mounted_here = 1;
    fd = open(p, O_WRONLY | O_CLOEXEC);
  }
  int ok = -1;
  if (fd >= 0) {
    ok = write(fd, "1", 1) == 1 ? 0 : -1;
    close(fd);
  }
  if (mounted_here) umount2(FUSECTL, MNT_DETACH);
  return ok;
}


static void unmount_execute (napi_env env, void *data) {
  (void)env;
  hf_unmount *u = data;
  hf_mount *m = u->m;
  fuse_session_exit(m->se);
  if (!m->exited) fuse_session_unmount(m->se);
  if (m->loop_started) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += UNMOUNT_GRACE_MS / 1000;
    int joined = pthread_timedjoin_np(m->loop_thread, NULL, &ts) == 0;
    if (!joined) {
      // something still holds the mount (a process inside it): a lazy
      // unmount leaves the connection up, so abort it
      if (abort_connection(u->conn) == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += UNMOUNT_GRACE_MS / 1000;
        joined = pthread_timedjoin_np(m->loop_thread, NULL, &ts) == 0;
      }
    }
    // not joined: the session stays alive for whoever still holds it,
    // answered EIO, and its memory is never freed (see unmount_complete)
    if (joined) m->loop_started = 0;
    else u->orphaned = 1;
  }
  pthread_mutex_lock(&m->notify_lock);
  m->notify_stop = 1;
  pthread_cond_signal(&m->notify_cond);
  pthread_mutex_unlock(&m->notify_lock);
  if (m->notify_started) { pthread_join(m->notify_thread, NULL); m->notify_started = 0; }
}

static void unmount_complete (napi_env env, napi_status status, void *data) {
  (void)status;
  hf_unmount *u = data;
  hf_mount *m = u->m;
  // requests JS still holds get EIO now: after this the session is gone
  pthread_mutex_lock(&m->slot_lock);
  for (uint32_t i = 0; i < m->nslots; i++) {
    hf_req *r = m->slots[i].r;
    if (!r) continue;
    m->slots[i].r = NULL;
    m->slots[i].gen = m->slots[i].gen + 1 >= SLOT_GEN_LIMIT ? 1 : m->slots[i].gen + 1;
    m->slots[i].next_free = m->free_head;
    m->free_head = i;
    m->live--;
    fuse_reply_err(r->req, EIO);
    r->answered = 1;
    if (!r->queued) req_free(r);
  }
  pthread_mutex_unlock(&m->slot_lock);
  m->closed = 1;
  if (u->orphaned) {
    // its workers still hand requests to JS (which answers EIO on a closed
    // filesystem): the function stays, without keeping node alive
    m->orphaned = 1;
    napi_unref_threadsafe_function(env, m->tsfn);
  } else {
    napi_release_threadsafe_function(m->tsfn, napi_tsfn_abort);
    fuse_session_destroy(m->se);
    m->se = NULL;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_resolve_deferred(env, u->deferred, undef);
  napi_delete_async_work(env, u->work);
  free(u);
}

// unmount(handle) -> Promise: detaches the mount and stops the session. The
// waiting happens off the JS thread, which goes on answering requests.
static napi_value js_unmount (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  napi_value promise;
  hf_unmount *u = calloc(1, sizeof(hf_unmount));
  if (!u) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  CHECK(napi_create_promise(env, &u->deferred, &promise));
  if (a.m->closed || a.m->unmounting) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, u->deferred, undef);
    free(u);
    return promise;
  }
  a.m->unmounting = 1;
  u->m = a.m;
  u->conn = mount_dev(a.m->mountpoint, NULL);
  napi_value name;
  napi_create_string_utf8(env, "hyperfs_fuse_unmount", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, unmount_execute, unmount_complete, u, &u->work));
  CHECK(napi_queue_async_work(env, u->work));
  return promise;
}

// stats(handle) -> { inodes, pending }: for tests and the log.
static napi_value js_stats (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  napi_value out, v;
  napi_create_object(env, &out);
  pthread_mutex_lock(&a.m->lock);
  napi_create_double(env, (double)a.m->tab.n_ino, &v);
  pthread_mutex_unlock(&a.m->lock);
  napi_set_named_property(env, out, "inodes", v);
  pthread_mutex_lock(&a.m->slot_lock);
  napi_create_double(env, (double)a.m->live, &v);
  pthread_mutex_unlock(&a.m->slot_lock);
  napi_set_named_property(env, out, "pending", v);
  return out;
}

static napi_value js_ino (napi_env env, napi_callback_info info) {
  hf_args a;
  if (get_args(env, info, &a)) return NULL;
  char *path = arg_string(&a, 1);
  napi_value out;
  pthread_mutex_lock(&a.m->lock);
  hf_node *n = path ? resolve_path(a.m, path) : NULL;
  napi_create_double(env, n ? (double)n->ino : 0, &out);
  pthread_mutex_unlock(&a.m->lock);
  free(path);
  return out;
}

static napi_value init (napi_env env, napi_value exports) {
  fuse_set_log_func(hf_log);
  struct { const char *name; napi_callback fn; } fns[] = {
    { "mount", js_mount }, { "unmount", js_unmount }, { "notify", notify }, { "stats", js_stats }, { "inodeOf", js_ino },
    { "replyErr", reply_err }, { "replyEntry", reply_entry }, { "replyAttr", reply_attr },
    { "replyOpen", reply_open }, { "replyCreate", reply_create }, { "replyData", reply_data },
    { "replyWrite", reply_write }, { "replyReadlink", reply_readlink }, { "replyStatfs", reply_statfs },
    { "replyXattr", reply_xattr }, { "replyDir", reply_dir }
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value f;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  struct { const char *name; int value; } ops[] = {
    { "LOOKUP", OP_LOOKUP }, { "GETATTR", OP_GETATTR }, { "SETATTR", OP_SETATTR }, { "READLINK", OP_READLINK },
    { "MKNOD", OP_MKNOD }, { "MKDIR", OP_MKDIR }, { "UNLINK", OP_UNLINK }, { "RMDIR", OP_RMDIR },
    { "SYMLINK", OP_SYMLINK }, { "RENAME", OP_RENAME }, { "OPEN", OP_OPEN }, { "READ", OP_READ },
    { "WRITE", OP_WRITE }, { "FLUSH", OP_FLUSH }, { "RELEASE", OP_RELEASE }, { "FSYNC", OP_FSYNC },
    { "READDIR", OP_READDIR }, { "STATFS", OP_STATFS }, { "SETXATTR", OP_SETXATTR }, { "GETXATTR", OP_GETXATTR },
    { "LISTXATTR", OP_LISTXATTR }, { "REMOVEXATTR", OP_REMOVEXATTR }, { "ACCESS", OP_ACCESS },
    { "CREATE", OP_CREATE }, { "NOTIFY_DONE", OP_NOTIFY_DONE }, { "EXIT", OP_EXIT }
  };
  struct { const char *name; int value; } consts[] = {
    { "SET_ATTR_MODE", FUSE_SET_ATTR_MODE }, { "SET_ATTR_UID", FUSE_SET_ATTR_UID }, { "SET_ATTR_GID", FUSE_SET_ATTR_GID },
    { "SET_ATTR_SIZE", FUSE_SET_ATTR_SIZE }, { "SET_ATTR_ATIME", FUSE_SET_ATTR_ATIME }, { "SET_ATTR_MTIME", FUSE_SET_ATTR_MTIME },
    { "SET_ATTR_ATIME_NOW", FUSE_SET_ATTR_ATIME_NOW }, { "SET_ATTR_MTIME_NOW", FUSE_SET_ATTR_MTIME_NOW },
    { "RENAME_NOREPLACE", RENAME_NOREPLACE }, { "ATTR_FIELDS", ATTR_FIELDS }, { "MAX_WRITE", MAX_WRITE }
  };
  napi_value c;
  CHECK(napi_create_object(env, &c));
  for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++) {
    napi_value v;
    CHECK(napi_create_int32(env, consts[i].value, &v));
    CHECK(napi_set_named_property(env, c, consts[i].name, v));
  }
  CHECK(napi_set_named_property(env, exports, "constants", c));
  napi_value o;
  CHECK(napi_create_object(env, &o));
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    napi_value v;
    CHECK(napi_create_int32(env, ops[i].value, &v));
    CHECK(napi_set_named_property(env, o, ops[i].name, v));
  }
  CHECK(napi_set_named_property(env, exports, "ops", o));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
