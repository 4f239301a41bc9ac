/*
 * A UDP socket read by a thread of its own with recvmmsg(2): up to 64 datagrams a system call,
 * queued, and handed to JavaScript up to 1,024 at a time in one Buffer and one callback.
 *
 * Why: node:dgram makes one recvmsg call, one Buffer and one callback per datagram (3.8 CPU s per
 * million datagrams before any work, against 0.94 with recvmmsg), and it reads only while the
 * event loop is free: a garbage collection or a busy turn of 60-120 ms (measured in logyard
 * receive at 100,000 datagrams/s on a loaded machine) overflows the kernel's buffer, which
 * holds 20,000 small datagrams for 8 MiB. The thread keeps reading meanwhile, into a queue of up
 * to `queueBytes` (the kernel counts about 830 bytes for a datagram of 170; the queue 170 and a
 * little). When the queue is full the thread stops reading, so what is lost is lost in the
 * kernel and counted there (/proc/net/udp), never here.
 *
 * open(ipv6, address, port, recvBufferSize) -> handle; throws an Error with `code` (EADDRINUSE...)
 * info(handle) -> [port, grantedRecvBufferSize]
 * start(handle, queueBytes, ends: Uint32Array(1024), callback(error: string|null, batch: Buffer|null, count))
 *   datagram i of a batch is batch[ends[i-1] (0 for the first), ends[i]); `ends` is reused
 *   for every batch, so read it during the callback.
 * close(handle): stops the thread and closes the socket (the port is free when it returns).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
/* The largest UDP payload (65,535 less the IP and UDP headers). */
#define SLOT 65536
/* Datagrams handed to JavaScript in one turn of the event loop, at most. */
#define TURN_DATAGRAMS 1024

/* One batch read by the thread: its datagrams back to back in data, where each ends. */
typedef struct chunk {
  struct chunk *next;
  uint32_t count;
  uint32_t bytes;
  uint32_t ends[BATCH];
  char data[];
} chunk;

typedef struct {
  int fd;
  int wake_fd;
  int started;
  int closed;
  int finalized;
  /* Shared with the thread, under lock. */
  pthread_mutex_t lock;
  pthread_cond_t room;
  chunk *head, *tail;
  size_t queued;
  size_t max_queued;
  int stopping;
  int error;
  pthread_t thread;
  /* The thread's own. */
  char *slots;
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  /* The event loop's. */
  uv_async_t async;
  napi_env env;
  napi_ref callback;
  napi_ref ends_ref;
  uint32_t *ends;
  napi_async_context async_context;
} udp_batch;

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "udp_batch: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what) {
  napi_value msg, code, error;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static udp_batch *handle_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "udp_batch: not a socket handle");
    return NULL;
  }
  return (udp_batch *)p;
}

/** The arguments of a call on a handle (argv[0]) and its state; NULL with an exception pending. */
static udp_batch *handle_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv) {
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "udp_batch: cannot read the arguments");
    return NULL;
  }
  return handle_of(env, argv[0]);
}

static void free_chunks(chunk *c) {
  while (c) {
    chunk *next = c->next;
    free(c);
    c = next;
  }
}

static void free_handle(udp_batch *u) {
  free_chunks(u->head);
  free(u->slots);
  pthread_mutex_destroy(&u->lock);
  pthread_cond_destroy(&u->room);
  free(u);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  udp_batch *u = data;
  /* While libuv still holds the async handle (a close in progress), on_closed frees it. */
  if (u->started) {
    u->finalized = 1;
    return;
  }
  if (u->fd >= 0) close(u->fd);
  if (u->wake_fd >= 0) close(u->wake_fd);
  free_handle(u);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool ipv6;
  char address[64];
  size_t len;
  int32_t port, rcvbuf;
  CHECK(napi_get_value_bool(env, argv[0], &ipv6));
  CHECK(napi_get_value_string_utf8(env, argv[1], address, sizeof address, &len));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &rcvbuf));

  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (ipv6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) return throw_errno(env, EINVAL, "bind");
    sslen = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, address, &a->sin_addr) != 1) return throw_errno(env, EINVAL, "bind");
    sslen = sizeof *a;
  }
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  /* As node:dgram: the buffer asked for is capped by net.core.rmem_max, not refused. */
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  udp_batch *u = calloc(1, sizeof *u);
  if (wake_fd < 0 || !u) {
    int err = wake_fd < 0 ? errno : ENOMEM;
    free(u);
    if (wake_fd >= 0) close(wake_fd);
    close(fd);
    return throw_errno(env, err, "udp_batch");
  }
  u->fd = fd;
  u->wake_fd = wake_fd;
  pthread_mutex_init(&u->lock, NULL);
  pthread_cond_init(&u->room, NULL);
  napi_value handle;
  CHECK(napi_create_external(env, u, finalize_handle, NULL, &handle));
  return handle;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_batch *u = handle_args(env, info, 1, argv);
  if (!u) return NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockname(u->fd, (struct sockaddr *)&ss, &sslen) < 0) return throw_errno(env, errno, "getsockname");
  int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  int granted = 0;
  socklen_t glen = sizeof granted;
  getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &granted, &glen);
  napi_value result, v;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_int32(env, port, &v));
  CHECK(napi_set_element(env, result, 0, v));
  CHECK(napi_create_int32(env, granted, &v));
  CHECK(napi_set_element(env, result, 1, v));
  return result;
}

/** The reader thread: batches into the queue while it has room, waiting on the socket (or close) when none came. */
static void *reader(void *arg) {
  udp_batch *u = arg;
  for (;;) {
    pthread_mutex_lock(&u->lock);
    while (u->queued >= u->max_queued && !u->stopping) pthread_cond_wait(&u->room, &u->lock);
    int stop = u->stopping;
    pthread_mutex_unlock(&u->lock);
    if (stop) return NULL;
    int n = recvmmsg(u->fd, u->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      struct pollfd p[2] = {{.fd = u->fd, .events = POLLIN}, {.fd = u->wake_fd, .events = POLLIN}};
      poll(p, 2, -1);
      continue;
    }
    if (n < 0) {
      /* Told once to the event loop; read on after a pause rather than spin on a lasting error. */
      int err = errno;
      pthread_mutex_lock(&u->lock);
      u->error = err;
      pthread_mutex_unlock(&u->lock);
      uv_async_send(&u->async);
      struct pollfd p = {.fd = u->wake_fd, .events = POLLIN};
      poll(&p, 1, 100);
      continue;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) total += u->msgs[i].msg_len;
    chunk *c = malloc(sizeof(chunk) + (total ? total : 1));
    if (!c) continue; /* no memory: these datagrams are lost, as the kernel would lose them */
    c->next = NULL;
    c->count = n;
    c->bytes = total;
    char *to = c->data;
    for (int i = 0; i < n; i++) {
      memcpy(to, u->iov[i].iov_base, u->msgs[i].msg_len);
      to += u->msgs[i].msg_len;
      c->ends[i] = (uint32_t)(to - c->data);
    }
    pthread_mutex_lock(&u->lock);
    if (u->tail) u->tail->next = c;
    else u->head = c;
    u->tail = c;
    /* A chunk costs its header too: an empty datagram is not free. */
    u->queued += total + sizeof(chunk);
    pthread_mutex_unlock(&u->lock);
    uv_async_send(&u->async);
  }
}

/** Calls the JavaScript callback with (error, batch, count); an exception it throws is uncaught, as in any callback. */
static void deliver(udp_batch *u, napi_value error, napi_value batch, int count) {
  napi_env env = u->env;
  napi_value callback, global, argv[3], result;
  napi_get_reference_value(env, u->callback, &callback);
  napi_get_global(env, &global);
  argv[0] = error;
  argv[1] = batch;
  napi_create_int32(env, count, &argv[2]);
  if (napi_make_callback(env, u->async_context, global, callback, 3, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

/**
 * On the event loop: hands the queued datagrams to JavaScript, up to TURN_DATAGRAMS in one Buffer
 * and one callback a turn (the thread's batches are as small as what had arrived when it read),
 * so that a backlog does not hold up the event loop's other work (sending what was read, the
 * drains' writes in the core); the rest comes next turn.
 */
static void on_batches(uv_async_t *async) {
  udp_batch *u = async->data;
  napi_env env = u->env;
  pthread_mutex_lock(&u->lock);
  chunk *list = u->head, *last = NULL;
  size_t total = 0, cost = 0;
  int count = 0;
  for (chunk *c = u->head; c && count + (int)c->count <= TURN_DATAGRAMS; c = c->next) {
    last = c;
    count += c->count;
    total += c->bytes;
    cost += c->bytes + sizeof(chunk);
  }
  if (last) {
    u->head = last->next;
    if (!u->head) u->tail = NULL;
    last->next = NULL;
  } else {
    list = NULL;
  }
  int more = u->head != NULL;
  int err = u->error;
  u->error = 0;
  pthread_mutex_unlock(&u->lock);
  if (more) uv_async_send(&u->async);
  if (u->closed) {
    free_chunks(list);
    return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value null;
  napi_get_null(env, &null);
  if (err) {
    napi_value message;
    napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
    deliver(u, message, null, 0);
  }
  if (list && !u->closed) {
    void *data;
    napi_value batch;
    napi_create_buffer(env, total, &data, &batch);
    char *to = data;
    int i = 0;
    for (chunk *c = list; c; c = c->next) {
      memcpy(to, c->data, c->bytes);
      for (uint32_t k = 0; k < c->count; k++) u->ends[i++] = (uint32_t)(to - (char *)data) + c->ends[k];
      to += c->bytes;
    }
    free_chunks(list);
    list = NULL;
    pthread_mutex_lock(&u->lock);
    u->queued -= cost;
    pthread_cond_signal(&u->room);
    pthread_mutex_unlock(&u->lock);
    deliver(u, null, batch, count);
  }
  free_chunks(list);
  napi_close_handle_scope(env, scope);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  udp_batch *u = handle_args(env, info, 4, argv);
  if (!u) return NULL;
  if (u->started || u->closed) {
    napi_throw_error(env, NULL, "udp_batch: already started or closed");
    return NULL;
  }
  int64_t queue_bytes;
  CHECK(napi_get_value_int64(env, argv[1], &queue_bytes));
  napi_typedarray_type type;
  size_t length;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL));
  if (type != napi_uint32_array || length < TURN_DATAGRAMS) {
    napi_throw_type_error(env, NULL, "udp_batch: ends must be a Uint32Array of 1024");
    return NULL;
  }
  u->slots = malloc((size_t)BATCH * SLOT);
  if (!u->slots) return throw_errno(env, ENOMEM, "udp_batch");
  for (int i = 0; i < BATCH; i++) {
    u->iov[i].iov_base = u->slots + (size_t)i * SLOT;
    u->iov[i].iov_len = SLOT;
    u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
    u->msgs[i].msg_hdr.msg_iovlen = 1;
  }
  u->max_queued = queue_bytes > 0 ? (size_t)queue_bytes : 1;
  u->ends = data;
  u->env = env;
  CHECK(napi_create_reference(env, argv[2], 1, &u->ends_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &u->callback));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "logyard:udp_batch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &u->async_context));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int r = uv_async_init(loop, &u->async, on_batches);
  if (r != 0) return throw_errno(env, -r, "uv_async_init");
  u->async.data = u;
  r = pthread_create(&u->thread, NULL, reader, u);
  if (r != 0) {
    uv_close((uv_handle_t *)&u->async, NULL);
    return throw_errno(env, r, "pthread_create");
  }
  u->started = 1;
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  udp_batch *u = h->data;
  u->started = 0;
  /* The struct goes with the JavaScript handle, whichever of the two ends last. */
  if (u->finalized) free_handle(u);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_batch *u = handle_args(env, info, 1, argv);
  if (!u || u->closed) return NULL;
  u->closed = 1;
  if (u->started) {
    pthread_mutex_lock(&u->lock);
    u->stopping = 1;
    pthread_cond_signal(&u->room);
    pthread_mutex_unlock(&u->lock);
    uint64_t one = 1;
    if (write(u->wake_fd, &one, sizeof one) < 0) { /* the eventfd cannot be full */ }
    /* The thread is in poll, a wait for room, or a read that does not block: it ends at once. */
    pthread_join(u->thread, NULL);
    napi_delete_reference(env, u->callback);
    napi_delete_reference(env, u->ends_ref);
    napi_async_destroy(env, u->async_context);
    uv_close((uv_handle_t *)&u->async, on_closed);
  }
  close(u->fd);
  close(u->wake_fd);
  u->fd = u->wake_fd = -1;
  pthread_mutex_lock(&u->lock);
  free_chunks(u->head);
  u->head = u->tail = NULL;
  pthread_mutex_unlock(&u->lock);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
