/*
 * A UDP socket read with recvmmsg(2): up to 64 datagrams a system call, handed to JavaScript in
 * one Buffer with one callback per batch. Node's dgram makes one recvmsg call, one Buffer and one
 * callback per datagram, about 2 us of CPU each before any work is done; at 200,000 datagrams/s
 * that alone was 40 % of a core (docs/receive.md, UDP receive buffer).
 *
 * open(ipv6, address, port, recvBufferSize) -> handle; throws an Error with `code` (EADDRINUSE...)
 * info(handle) -> [port, grantedRecvBufferSize]
 * start(handle, ends: Uint32Array(64), callback(error: string|null, batch: Buffer|null, count))
 *   datagram i of a batch is batch[ends[i-1] (0 for the first), ends[i]); `ends` is reused
 *   for every batch, so read it during the callback.
 * close(handle): stops reading and closes the socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
/* The largest UDP payload (65,535 less the IP and UDP headers). */
#define SLOT 65536
/* At most this many batches per readable event, so that other I/O gets its turn. */
#define ROUNDS 16

typedef struct {
  int fd;
  int started;
  int closed;
  int finalized;
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref ends_ref;
  uint32_t *ends;
  napi_async_context async;
  char *slots;
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
} udp_batch;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udp_batch: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
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

static void finalize_handle(napi_env env, void *data, void *hint) {
  udp_batch *u = data;
  /* While libuv still holds the poll (a close in progress), on_closed frees it. */
  if (u->started) {
    u->finalized = 1;
    return;
  }
  if (u->fd >= 0) close(u->fd);
  free(u->slots);
  free(u);
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
  /* As Node's dgram: the buffer asked for is capped by net.core.rmem_max, not refused. */
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  udp_batch *u = calloc(1, sizeof *u);
  char *slots = malloc((size_t)BATCH * SLOT);
  if (!u || !slots) {
    free(u);
    free(slots);
    close(fd);
    return throw_errno(env, ENOMEM, "udp_batch");
  }
  u->fd = fd;
  u->slots = slots;
  for (int i = 0; i < BATCH; i++) {
    u->iov[i].iov_base = slots + (size_t)i * SLOT;
    u->iov[i].iov_len = SLOT;
    u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
    u->msgs[i].msg_hdr.msg_iovlen = 1;
  }
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

/** Calls the JavaScript callback with (error, batch, count); an exception it throws is uncaught, as in any callback. */
static void deliver(udp_batch *u, napi_value error, napi_value batch, int count) {
  napi_env env = u->env;
  napi_value callback, resource, argv[3], result;
  napi_get_reference_value(env, u->callback, &callback);
  napi_get_global(env, &resource);
  argv[0] = error;
  argv[1] = batch;
  napi_create_int32(env, count, &argv[2]);
  if (napi_make_callback(env, u->async, resource, callback, 3, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  udp_batch *u = poll->data;
  napi_env env = u->env;
  for (int round = 0; round < ROUNDS && !u->closed; round++) {
    int n = recvmmsg(u->fd, u->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      int err = errno;
      if (n == 0 || err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
      napi_handle_scope scope;
      napi_open_handle_scope(env, &scope);
      napi_value message, null;
      napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
      napi_get_null(env, &null);
      deliver(u, message, null, 0);
      napi_close_handle_scope(env, scope);
      return;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
      total += u->msgs[i].msg_len;
      u->ends[i] = (uint32_t)total;
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    void *data;
    napi_value batch, null;
    napi_create_buffer(env, total, &data, &batch);
    char *to = data;
    for (int i = 0; i < n; i++) {
      memcpy(to, u->iov[i].iov_base, u->msgs[i].msg_len);
      to += u->msgs[i].msg_len;
    }
    napi_get_null(env, &null);
    deliver(u, null, batch, n);
    napi_close_handle_scope(env, scope);
    if (n < BATCH) return;
  }
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  udp_batch *u = handle_args(env, info, 3, argv);
  if (!u) return NULL;
  if (u->started || u->closed) {
    napi_throw_error(env, NULL, "udp_batch: already started or closed");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (type != napi_uint32_array || length < BATCH) {
    napi_throw_type_error(env, NULL, "udp_batch: ends must be a Uint32Array of 64");
    return NULL;
  }
  u->ends = data;
  u->env = env;
  CHECK(napi_create_reference(env, argv[1], 1, &u->ends_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &u->callback));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "logyard:udp_batch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &u->async));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init(loop, &u->poll, u->fd);
  if (r == 0) {
    u->poll.data = u;
    r = uv_poll_start(&u->poll, UV_READABLE, on_readable);
  }
  if (r != 0) return throw_errno(env, -r, "uv_poll");
  u->started = 1;
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  udp_batch *u = h->data;
  free(u->slots);
  u->slots = NULL;
  u->started = 0;
  /* The struct goes with the JavaScript handle, whichever of the two ends last. */
  if (u->finalized) free(u);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_batch *u = handle_args(env, info, 1, argv);
  if (!u || u->closed) return NULL;
  u->closed = 1;
  if (u->started) {
    /* Once stopped, the poll no longer watches the fd (libuv drops it from epoll): closing it now
       frees the port before close() returns, as node:dgram does. */
    uv_poll_stop(&u->poll);
    close(u->fd);
    u->fd = -1;
    napi_delete_reference(env, u->callback);
    napi_delete_reference(env, u->ends_ref);
    napi_async_destroy(env, u->async);
    uv_close((uv_handle_t *)&u->poll, on_closed);
  } else {
    close(u->fd);
    u->fd = -1;
  }
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
