// anchorlb native addon: what Node cannot do by itself.
//   - AF_PACKET sockets bound to one interface with a classic BPF filter (ARP and/or
//     ICMPv6 Neighbor Solicitation/Advertisement), received through libuv without
//     blocking the event loop, and raw Ethernet frame sending.
//   - TCP socket options: TCP_MD5SIG (RFC 2385), IP_TTL / IPV6_UNICAST_HOPS,
//     IP_MINTTL / IPV6_MINHOPCOUNT (GTSM, RFC 5082), and creating an unconnected TCP
//     socket so a key can be set before Node sends the SYN.
//   - UDP sockets that report each datagram's received TTL / hop limit and destination
//     address (IP_RECVTTL / IPV6_RECVHOPLIMIT, IP_PKTINFO / IPV6_RECVPKTINFO, via recvmsg),
//     for BFD (RFC 5881 §5: TTL 255 sent and checked; RFC 5883: minimum TTL).
//   - Link events: a netlink socket on RTMGRP_LINK that wakes JS when this network namespace's
//     links change (the messages are not parsed: the caller re-reads the links).
// Plain node_api.h (no node-addon-api): the surface is small and this keeps the build
// free of dependencies. Every failure becomes a JS Error with `code` set to the errno name.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define FILTER_ARP 1u
#define FILTER_NDP 2u
#define RECEIVE_BUFFER_SIZE 65536
// Frames handled per readiness callback before yielding back to the event loop.
#define MAX_FRAMES_PER_WAKEUP 256

// ---------------------------------------------------------------------------------------
// errors

static napi_value make_error(napi_env env, int err, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  const char *name = err ? strerrorname_np(err) : "EINVAL";
  napi_value code, msg, error;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  return error;
}

static void throw_error(napi_env env, int err, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  napi_throw(env, make_error(env, err, "%s", message));
}

static void throw_type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

// ---------------------------------------------------------------------------------------
// argument helpers (each returns false with a pending exception)

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv,
                     napi_value *this_arg) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, this_arg, NULL) != napi_ok) return false;
  if (argc < expected) {
    throw_type_error(env, "missing arguments");
    return false;
  }
  return true;
}

static bool get_string(napi_env env, napi_value value, char *out, size_t size, const char *what) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, out, size, &length) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a string", what);
    throw_type_error(env, message);
    return false;
  }
  if (length >= size - 1) {
    throw_error(env, EINVAL, "%s is too long", what);
    return false;
  }
  return true;
}

static bool get_int(napi_env env, napi_value value, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a number", what);
    throw_type_error(env, message);
    return false;
  }
  return true;
}

static bool get_buffer(napi_env env, napi_value value, void **data, size_t *length, const char *what) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, value, data, length) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a Buffer", what);
    throw_type_error(env, message);
    return false;
  }
  return true;
}

static bool get_interface_index(napi_env env, int fd, const char *ifname, int *index) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    int err = errno;
    throw_error(env, err, "interface %s: %s%s", ifname, strerror(err),
                err == ENODEV ? " (no such interface in this network namespace)" : "");
    return false;
  }
  *index = ifr.ifr_ifindex;
  return true;
}

// ---------------------------------------------------------------------------------------
// interfaceInfo(name) -> { index, mac: Buffer(6), mtu }

static napi_value interface_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  char ifname[IFNAMSIZ + 1];
  if (!get_string(env, argv[0], ifname, sizeof ifname, "interface name")) return NULL;

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_error(env, errno, "interface %s: cannot open a socket for ioctl: %s", ifname, strerror(errno));
    return NULL;
  }
  int index;
  if (!get_interface_index(env, fd, ifname, &index)) {
    close(fd);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "interface %s: cannot read its MAC address: %s", ifname, strerror(err));
    return NULL;
  }
  unsigned char mac[6];
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  int mtu = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? 0 : ifr.ifr_mtu;
  close(fd);

  napi_value result, index_value, mac_value, mtu_value;
  void *mac_data;
  napi_create_object(env, &result);
  napi_create_int32(env, index, &index_value);
  napi_create_buffer_copy(env, 6, mac, &mac_data, &mac_value);
  napi_create_int32(env, mtu, &mtu_value);
  napi_set_named_property(env, result, "index", index_value);
  napi_set_named_property(env, result, "mac", mac_value);
  napi_set_named_property(env, result, "mtu", mtu_value);
  return result;
}

// ---------------------------------------------------------------------------------------
// sockets watched by libuv: what raw and UDP sockets share

typedef struct polled_socket {
  uv_poll_t poll;  // first member: the uv handle pointer is the struct pointer
  napi_env env;
  int fd;
  napi_ref self;      // strong while open: an open socket is never collected
  napi_ref on_data;   // onFrame / onPacket
  napi_ref on_error;  // (error: Error) => void
  napi_async_context async_context;
} polled_socket;

// Calls a JS callback from a libuv callback; an exception it throws is reported as uncaught.
static void call_js(polled_socket *sock, napi_ref callback_ref, size_t argc, napi_value *argv) {
  napi_value callback, self, ignored;
  napi_get_reference_value(sock->env, callback_ref, &callback);
  napi_get_reference_value(sock->env, sock->self, &self);
  if (napi_make_callback(sock->env, sock->async_context, self, callback, argc, argv, &ignored) ==
      napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(sock->env, &exception);
    napi_fatal_exception(sock->env, exception);
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  free(handle);  // the poll handle is the first member of every polled socket
}

// Stops receiving and closes the fd; memory goes when libuv has let go of the handle.
static void stop_and_close(polled_socket *sock) {
  uv_poll_stop(&sock->poll);
  if (sock->fd >= 0) close(sock->fd);
  sock->fd = -1;
  uv_close((uv_handle_t *)&sock->poll, on_poll_closed);
}

// A socket still open when its Node environment (main thread or worker) ends.
static void close_at_teardown(void *sock) { stop_and_close(sock); }

// Takes an open, non-blocking fd and a calloc'ed socket and starts delivering to on_data /
// on_error; returns the JS handle. On failure the fd is closed, the socket freed, and an
// error naming `what` is thrown.
static napi_value watch_socket(napi_env env, polled_socket *sock, int fd, napi_value on_data, napi_value on_error,
                               const char *resource_name, uv_poll_cb on_readable, const char *what) {
  sock->env = env;
  sock->fd = fd;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &sock->poll, fd);
  if (rc < 0) {
    close(fd);
    free(sock);
    throw_error(env, -rc, "cannot watch the %s: %s", what, uv_strerror(rc));
    return NULL;
  }
  napi_value handle, name;
  napi_create_object(env, &handle);
  napi_wrap(env, handle, sock, NULL, NULL, NULL);
  napi_create_reference(env, handle, 1, &sock->self);
  napi_create_reference(env, on_data, 1, &sock->on_data);
  napi_create_reference(env, on_error, 1, &sock->on_error);
  napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, handle, name, &sock->async_context);
  napi_add_env_cleanup_hook(env, close_at_teardown, sock);
  uv_poll_start(&sock->poll, UV_READABLE, on_readable);
  return handle;
}

static polled_socket *unwrap_socket(napi_env env, napi_value handle, const char *kind) {
  void *pointer = NULL;
  if (napi_unwrap(env, handle, &pointer) != napi_ok || !pointer) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    throw_error(env, EBADF, "%s is closed", kind);
    return NULL;
  }
  return pointer;
}

// packetClose(handle), udpClose(handle), linkEventsClose(handle): idempotent
static napi_value close_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  void *pointer = NULL;
  if (napi_remove_wrap(env, argv[0], &pointer) != napi_ok || !pointer) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return NULL;
  }
  polled_socket *sock = pointer;
  napi_remove_env_cleanup_hook(env, close_at_teardown, sock);
  napi_async_destroy(env, sock->async_context);
  napi_delete_reference(env, sock->on_data);
  napi_delete_reference(env, sock->on_error);
  napi_delete_reference(env, sock->self);
  stop_and_close(sock);
  return NULL;
}

// ---------------------------------------------------------------------------------------
// packet sockets

typedef struct packet_socket {
  polled_socket base;  // first member; on_data: (frame: Buffer, packetType: number) => void
  int ifindex;
  char ifname[IFNAMSIZ];
  unsigned char buffer[RECEIVE_BUFFER_SIZE];
} packet_socket;

// Classic BPF: accept ARP (ethertype 0x0806) and/or IPv6 (0x86dd) whose next header is
// ICMPv6 (58) with type 135 (NS) or 136 (NA). No IPv6 extension headers: NDP never uses them.
// Frames that carried a VLAN tag are refused: the kernel strips the tag into metadata and shows
// such frames to a socket on the parent interface too, where answering them (untagged) would
// announce an address on the wrong segment. A socket on the VLAN interface itself sees them
// untagged and accepts them.
static int build_filter(unsigned mode, struct sock_filter *prog) {
  int n = 0;
  const uint32_t accept = 0x40000;
  // Jump offsets are relative, so the program is laid out with fixed tails:
  //   [0]  ld vlan_tag_present
  //   [1]  jeq 0    -> next | reject
  //   [2]  ldh [12]        ethertype
  //   [3]  jeq ARP  -> accept | next   (ARP off: next | next)
  //   [4]  jeq IPv6 -> next | reject   (NDP off: reject | reject)
  //   [5]  ldb [20]        next header
  //   [6]  jeq 58   -> next | reject
  //   [7]  ldb [54]        ICMPv6 type
  //   [8]  jeq 135  -> accept | next
  //   [9]  jeq 136  -> accept | reject
  //   [10] ret accept
  //   [11] ret 0
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 9);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12);
  if (mode & FILTER_ARP)
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 6, 0);
  else
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 0, 0);
  if (mode & FILTER_NDP)
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV6, 0, 6);
  else
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV6, 6, 6);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 4);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 136, 0, 1);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, accept);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  return n;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  packet_socket *packet = (packet_socket *)handle;
  polled_socket *sock = &packet->base;
  napi_env env = sock->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (status == UV_EBADF) {
    // libuv reports EPOLLERR as EBADF and stops the handle. The real cause is the socket's
    // pending error: ENETDOWN when the link went down. The kernel resumes delivery when the
    // link comes back, so keep watching; anything else ends the socket.
    int err = 0;
    socklen_t length = sizeof err;
    if (getsockopt(sock->fd, SOL_SOCKET, SO_ERROR, &err, &length) < 0) err = errno;
    if (err == ENETDOWN || err == 0) {
      uv_poll_start(&sock->poll, UV_READABLE, on_readable);
    } else {
      napi_value error = make_error(env, err, "interface %s: raw socket failed: %s", packet->ifname, strerror(err));
      call_js(sock, sock->on_error, 1, &error);
    }
    napi_close_handle_scope(env, scope);
    return;
  }
  if (status < 0) {
    napi_value error = make_error(env, -status, "interface %s: raw socket poll failed: %s", packet->ifname,
                                  uv_strerror(status));
    uv_poll_stop(&sock->poll);
    call_js(sock, sock->on_error, 1, &error);
    napi_close_handle_scope(env, scope);
    return;
  }
  (void)events;
  for (int i = 0; i < MAX_FRAMES_PER_WAKEUP && sock->fd >= 0; i++) {
    struct sockaddr_ll from;
    socklen_t from_length = sizeof from;
    ssize_t n = recvfrom(sock->fd, packet->buffer, sizeof packet->buffer, MSG_DONTWAIT | MSG_TRUNC,
                         (struct sockaddr *)&from, &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENETDOWN) {
        napi_value error = make_error(env, errno, "interface %s: receiving a frame failed: %s", packet->ifname,
                                      strerror(errno));
        call_js(sock, sock->on_error, 1, &error);
      }
      break;
    }
    // Frames we sent ourselves come back on an ETH_P_ALL socket when PACKET_IGNORE_OUTGOING
    // is unavailable; they are never requests to answer.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    size_t length = (size_t)n > sizeof packet->buffer ? sizeof packet->buffer : (size_t)n;
    napi_value argv[2];
    void *data;
    napi_create_buffer_copy(env, length, packet->buffer, &data, &argv[0]);
    napi_create_int32(env, from.sll_pkttype, &argv[1]);
    call_js(sock, sock->on_data, 2, argv);
  }
  napi_close_handle_scope(env, scope);
}

static bool set_membership(napi_env env, packet_socket *sock, int type, const unsigned char *mac, bool add) {
  struct packet_mreq mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.mr_ifindex = sock->ifindex;
  mreq.mr_type = (unsigned short)type;
  if (mac) {
    mreq.mr_alen = 6;
    memcpy(mreq.mr_address, mac, 6);
  }
  int option = add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP;
  if (setsockopt(sock->base.fd, SOL_PACKET, option, &mreq, sizeof mreq) < 0) {
    throw_error(env, errno, "interface %s: cannot %s packet membership: %s", sock->ifname, add ? "add" : "drop",
                strerror(errno));
    return false;
  }
  return true;
}

// openPacketSocket(ifname, filterMode, onFrame, onError) -> handle object
static napi_value open_packet_socket(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  char ifname[IFNAMSIZ + 1];
  int32_t mode;
  if (!get_string(env, argv[0], ifname, sizeof ifname, "interface name")) return NULL;
  if (!get_int(env, argv[1], &mode, "filter mode")) return NULL;
  if (mode <= 0 || (mode & ~(int32_t)(FILTER_ARP | FILTER_NDP))) {
    throw_error(env, EINVAL, "filter mode %d is not 1 (ARP), 2 (NDP) or 3 (both)", mode);
    return NULL;
  }
  napi_valuetype t1, t2;
  napi_typeof(env, argv[2], &t1);
  napi_typeof(env, argv[3], &t2);
  if (t1 != napi_function || t2 != napi_function) {
    throw_type_error(env, "onFrame and onError must be functions");
    return NULL;
  }

  // Protocol 0: nothing is queued until the filter is attached and the socket bound.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    throw_error(env, err, "interface %s: cannot open a raw (AF_PACKET) socket: %s%s", ifname, strerror(err),
                err == EPERM ? " (needs CAP_NET_RAW)" : "");
    return NULL;
  }
  int ifindex;
  if (!get_interface_index(env, fd, ifname, &ifindex)) {
    close(fd);
    return NULL;
  }
  struct sock_filter prog[16];
  struct sock_fprog fprog = {.len = (unsigned short)build_filter((unsigned)mode, prog), .filter = prog};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "interface %s: cannot attach the BPF filter: %s", ifname, strerror(err));
    return NULL;
  }
  int one = 1;
  // Best effort (Linux >= 4.20); outgoing frames are also dropped in on_readable.
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "interface %s: cannot bind the raw socket: %s", ifname, strerror(err));
    return NULL;
  }

  packet_socket *sock = calloc(1, sizeof *sock);
  if (!sock) {
    close(fd);
    throw_error(env, ENOMEM, "interface %s: out of memory", ifname);
    return NULL;
  }
  sock->ifindex = ifindex;
  strncpy(sock->ifname, ifname, IFNAMSIZ - 1);
  char what[IFNAMSIZ + 32];
  snprintf(what, sizeof what, "raw socket of interface %s", ifname);
  return watch_socket(env, &sock->base, fd, argv[2], argv[3], "anchorlb:PacketSocket", on_readable, what);
}

// packetSend(handle, frame)
static napi_value packet_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  packet_socket *sock = (packet_socket *)unwrap_socket(env, argv[0], "raw socket");
  if (!sock) return NULL;
  void *data;
  size_t length;
  if (!get_buffer(env, argv[1], &data, &length, "frame")) return NULL;
  if (length < 14) {
    throw_error(env, EINVAL, "interface %s: frame of %zu bytes is shorter than an Ethernet header", sock->ifname,
                length);
    return NULL;
  }
  ssize_t sent;
  do sent = send(sock->base.fd, data, length, 0);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    throw_error(env, errno, "interface %s: sending a frame of %zu bytes failed: %s", sock->ifname, length,
                strerror(errno));
    return NULL;
  }
  return NULL;
}

// packetMembership(handle, kind, mac | null, add): kind 'multicast' | 'allmulti'
static napi_value packet_membership(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  packet_socket *sock = (packet_socket *)unwrap_socket(env, argv[0], "raw socket");
  if (!sock) return NULL;
  char kind[16];
  if (!get_string(env, argv[1], kind, sizeof kind, "membership kind")) return NULL;
  bool add;
  if (napi_get_value_bool(env, argv[3], &add) != napi_ok) {
    throw_type_error(env, "add must be a boolean");
    return NULL;
  }
  if (strcmp(kind, "multicast") == 0) {
    void *mac;
    size_t length;
    if (!get_buffer(env, argv[2], &mac, &length, "multicast MAC")) return NULL;
    if (length != 6) {
      throw_error(env, EINVAL, "multicast MAC must be 6 bytes, got %zu", length);
      return NULL;
    }
    set_membership(env, sock, PACKET_MR_MULTICAST, mac, add);
  } else if (strcmp(kind, "allmulti") == 0) {
    set_membership(env, sock, PACKET_MR_ALLMULTI, NULL, add);
  } else {
    throw_error(env, EINVAL, "membership kind %s is not multicast or allmulti", kind);
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------
// TCP

static bool socket_family(napi_env env, int fd, int *family) {
  socklen_t length = sizeof *family;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, family, &length) < 0) {
    throw_error(env, errno, "fd %d: not a socket: %s", fd, strerror(errno));
    return false;
  }
  if (*family != AF_INET && *family != AF_INET6) {
    throw_error(env, EAFNOSUPPORT, "fd %d: not an IPv4 or IPv6 socket", fd);
    return false;
  }
  return true;
}

// createTcpSocket(family 4 | 6) -> fd (unconnected, unbound, non-blocking, close-on-exec)
static napi_value create_tcp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  int32_t version;
  if (!get_int(env, argv[0], &version, "family")) return NULL;
  if (version != 4 && version != 6) {
    throw_error(env, EINVAL, "family %d is not 4 or 6", version);
    return NULL;
  }
  int fd = socket(version == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_error(env, errno, "cannot create an IPv%d TCP socket: %s", version, strerror(errno));
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// setTcpMd5Key(fd, peerAddress, key: Buffer): an empty key removes the peer's key.
static napi_value set_tcp_md5_key(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  int32_t fd;
  char peer[INET6_ADDRSTRLEN + 1];
  void *key;
  size_t key_length;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  if (!get_string(env, argv[1], peer, sizeof peer, "peer address")) return NULL;
  if (!get_buffer(env, argv[2], &key, &key_length, "key")) return NULL;
  if (key_length > TCP_MD5SIG_MAXKEYLEN) {
    throw_error(env, EINVAL, "TCP-MD5 key for %s is %zu bytes; the limit is %d", peer, key_length,
                TCP_MD5SIG_MAXKEYLEN);
    return NULL;
  }
  int family;
  if (!socket_family(env, fd, &family)) return NULL;

  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, peer, &v4) == 1) {
    if (family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&sig.tcpm_addr;
      sin->sin_family = AF_INET;
      sin->sin_addr = v4;
    } else {
      // A dual-stack IPv6 socket sees IPv4 peers as ::ffff:a.b.c.d; the kernel stores the key as IPv4.
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sig.tcpm_addr;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
    }
  } else if (inet_pton(AF_INET6, peer, &v6) == 1) {
    if (family != AF_INET6) {
      throw_error(env, EAFNOSUPPORT, "peer address %s is IPv6 but fd %d is an IPv4 socket", peer, fd);
      return NULL;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sig.tcpm_addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = v6;
  } else {
    throw_error(env, EINVAL, "peer address %s is not an IPv4 or IPv6 address", peer);
    return NULL;
  }
  sig.tcpm_keylen = (uint16_t)key_length;
  memcpy(sig.tcpm_key, key, key_length);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) {
    int err = errno;
    // Removing a key that is not there is not an error for the caller.
    if (key_length == 0 && err == ENOENT) return NULL;
    throw_error(env, err, "cannot %s the TCP-MD5 key for peer %s on fd %d: %s", key_length ? "set" : "remove", peer,
                fd, strerror(err));
  }
  return NULL;
}

// IPv4 option and its IPv6 counterpart; on IPv6 sockets both are set, because a dual-stack
// socket may carry IPv4 (mapped) traffic, which the IPv4 option governs.
static napi_value set_ttl_option(napi_env env, napi_callback_info info, int v4_option, int v6_option,
                                 const char *what, int minimum) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  int32_t fd, ttl;
  if (!get_int(env, argv[0], &fd, "fd") || !get_int(env, argv[1], &ttl, what)) return NULL;
  if (ttl < minimum || ttl > 255) {
    throw_error(env, EINVAL, "%s %d is out of range %d..255", what, ttl, minimum);
    return NULL;
  }
  int family;
  if (!socket_family(env, fd, &family)) return NULL;
  if (family == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, v6_option, &ttl, sizeof ttl) < 0) {
      throw_error(env, errno, "cannot set %s %d on IPv6 fd %d: %s", what, ttl, fd, strerror(errno));
      return NULL;
    }
    setsockopt(fd, IPPROTO_IP, v4_option, &ttl, sizeof ttl);
    return NULL;
  }
  if (setsockopt(fd, IPPROTO_IP, v4_option, &ttl, sizeof ttl) < 0)
    throw_error(env, errno, "cannot set %s %d on fd %d: %s", what, ttl, fd, strerror(errno));
  return NULL;
}

static napi_value set_ip_ttl(napi_env env, napi_callback_info info) {
  return set_ttl_option(env, info, IP_TTL, IPV6_UNICAST_HOPS, "TTL", 1);
}

static napi_value set_ip_min_ttl(napi_env env, napi_callback_info info) {
  return set_ttl_option(env, info, IP_MINTTL, IPV6_MINHOPCOUNT, "minimum TTL", 0);
}

// ---------------------------------------------------------------------------------------
// UDP with the received TTL (BFD)

#define UDP_BUFFER_SIZE 2048
#define MAX_DATAGRAMS_PER_WAKEUP 64

typedef struct udp_socket {
  // first member; on_data: (payload: Buffer, source: string, sourcePort: number, ttl: number, destination: string) => void
  polled_socket base;
  int family;
  unsigned char buffer[UDP_BUFFER_SIZE];
} udp_socket;

static bool parse_socket_address(napi_env env, int family, const char *address, int port, struct sockaddr_storage *out,
                                 socklen_t *length) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (address[0] != '\0' && inet_pton(AF_INET, address, &sin->sin_addr) != 1) {
      throw_error(env, EINVAL, "%s is not an IPv4 address", address);
      return false;
    }
    *length = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (address[0] != '\0' && inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) {
      throw_error(env, EINVAL, "%s is not an IPv6 address", address);
      return false;
    }
    *length = sizeof *sin6;
  }
  return true;
}

static void udp_on_readable(uv_poll_t *handle, int status, int events) {
  udp_socket *udp = (udp_socket *)handle;
  polled_socket *sock = &udp->base;
  napi_env env = sock->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  (void)events;
  if (status < 0) {
    // ICMP errors (port unreachable after a send) surface as a pending socket error: not fatal.
    int err = 0;
    socklen_t length = sizeof err;
    getsockopt(sock->fd, SOL_SOCKET, SO_ERROR, &err, &length);
    if (status == UV_EBADF) uv_poll_start(&sock->poll, UV_READABLE, udp_on_readable);
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int i = 0; i < MAX_DATAGRAMS_PER_WAKEUP && sock->fd >= 0; i++) {
    struct sockaddr_storage from;
    union {
      struct cmsghdr align;
      unsigned char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
    } control;
    struct iovec iov = {.iov_base = udp->buffer, .iov_len = sizeof udp->buffer};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t n = recvmsg(sock->fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ECONNREFUSED & co: an ICMP error for an earlier send, reported once; keep receiving.
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == ENETDOWN) continue;
      napi_value error = make_error(env, errno, "receiving a UDP datagram failed: %s", strerror(errno));
      call_js(sock, sock->on_error, 1, &error);
      break;
    }
    int ttl = -1;
    char source[INET6_ADDRSTRLEN] = "", destination[INET6_ADDRSTRLEN] = "";
    int source_port = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        inet_ntop(AF_INET, &info.ipi_addr, destination, sizeof destination);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        inet_ntop(AF_INET6, &info.ipi6_addr, destination, sizeof destination);
      }
    }
    if (from.ss_family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&from;
      inet_ntop(AF_INET, &sin->sin_addr, source, sizeof source);
      source_port = ntohs(sin->sin_port);
    } else if (from.ss_family == AF_INET6) {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&from;
      inet_ntop(AF_INET6, &sin6->sin6_addr, source, sizeof source);
      source_port = ntohs(sin6->sin6_port);
    }
    size_t length = (size_t)n > sizeof udp->buffer ? sizeof udp->buffer : (size_t)n;
    napi_value argv[5];
    void *data;
    napi_create_buffer_copy(env, length, udp->buffer, &data, &argv[0]);
    napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(env, source_port, &argv[2]);
    napi_create_int32(env, ttl, &argv[3]);
    napi_create_string_utf8(env, destination, NAPI_AUTO_LENGTH, &argv[4]);
    call_js(sock, sock->on_data, 5, argv);
  }
  napi_close_handle_scope(env, scope);
}

// openUdpSocket(family 4 | 6, localAddress ('' = any), port, ttl (0 = default), onPacket, onError) -> handle
static napi_value open_udp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv, NULL)) return NULL;
  int32_t version, port, ttl;
  char address[INET6_ADDRSTRLEN + 1];
  if (!get_int(env, argv[0], &version, "family") || !get_string(env, argv[1], address, sizeof address, "local address") ||
      !get_int(env, argv[2], &port, "port") || !get_int(env, argv[3], &ttl, "TTL"))
    return NULL;
  if (version != 4 && version != 6) {
    throw_error(env, EINVAL, "family %d is not 4 or 6", version);
    return NULL;
  }
  if (port < 0 || port > 65535 || ttl < 0 || ttl > 255) {
    throw_error(env, EINVAL, "port %d or TTL %d is out of range", port, ttl);
    return NULL;
  }
  napi_valuetype t1, t2;
  napi_typeof(env, argv[4], &t1);
  napi_typeof(env, argv[5], &t2);
  if (t1 != napi_function || t2 != napi_function) {
    throw_type_error(env, "onPacket and onError must be functions");
    return NULL;
  }
  int family = version == 4 ? AF_INET : AF_INET6;
  struct sockaddr_storage local;
  socklen_t local_length;
  if (!parse_socket_address(env, family, address, port, &local, &local_length)) return NULL;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_error(env, errno, "cannot create an IPv%d UDP socket: %s", version, strerror(errno));
    return NULL;
  }
  int one = 1;
  int rc;
  if (family == AF_INET) {
    rc = setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    if (rc == 0 && ttl > 0) rc = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  } else {
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    if (rc == 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    if (rc == 0 && ttl > 0) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  }
  if (rc < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "cannot set the IPv%d UDP socket options: %s", version, strerror(err));
    return NULL;
  }
  if (bind(fd, (struct sockaddr *)&local, local_length) < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "cannot bind UDP %s port %d: %s", address[0] ? address : (version == 4 ? "0.0.0.0" : "::"), port,
                strerror(err));
    return NULL;
  }
  udp_socket *sock = calloc(1, sizeof *sock);
  if (!sock) {
    close(fd);
    throw_error(env, ENOMEM, "out of memory");
    return NULL;
  }
  sock->family = family;
  return watch_socket(env, &sock->base, fd, argv[4], argv[5], "anchorlb:UdpSocket", udp_on_readable, "UDP socket");
}

// udpSend(handle, payload, address, port)
static napi_value udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  udp_socket *sock = (udp_socket *)unwrap_socket(env, argv[0], "UDP socket");
  if (!sock) return NULL;
  void *data;
  size_t length;
  char address[INET6_ADDRSTRLEN + 1];
  int32_t port;
  if (!get_buffer(env, argv[1], &data, &length, "payload") || !get_string(env, argv[2], address, sizeof address, "address") ||
      !get_int(env, argv[3], &port, "port"))
    return NULL;
  if (address[0] == '\0' || port <= 0 || port > 65535) {
    throw_error(env, EINVAL, "destination %s port %d is not valid", address, port);
    return NULL;
  }
  struct sockaddr_storage to;
  socklen_t to_length;
  if (!parse_socket_address(env, sock->family, address, port, &to, &to_length)) return NULL;
  ssize_t sent;
  do sent = sendto(sock->base.fd, data, length, 0, (struct sockaddr *)&to, to_length);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) throw_error(env, errno, "sending to %s port %d failed: %s", address, port, strerror(errno));
  return NULL;
}

// ---------------------------------------------------------------------------------------
// link events

typedef struct link_events {
  polled_socket base;  // first member; on_data: () => void, once per burst of messages
  unsigned char buffer[8192];
} link_events;

static void link_events_on_readable(uv_poll_t *handle, int status, int events) {
  link_events *link = (link_events *)handle;
  polled_socket *sock = &link->base;
  napi_env env = sock->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  (void)events;
  bool changed = false;
  if (status < 0) {
    // ENOBUFS: the kernel dropped messages it could not queue (a burst). Some change happened;
    // the caller's re-read sees it, so it is a wake-up like any other.
    int err = 0;
    socklen_t length = sizeof err;
    if (getsockopt(sock->fd, SOL_SOCKET, SO_ERROR, &err, &length) < 0) err = errno;
    if (status != UV_EBADF || (err != ENOBUFS && err != 0)) {
      napi_value error = make_error(env, err ? err : -status, "netlink link events failed: %s",
                                    err ? strerror(err) : uv_strerror(status));
      uv_poll_stop(&sock->poll);
      call_js(sock, sock->on_error, 1, &error);
      napi_close_handle_scope(env, scope);
      return;
    }
    uv_poll_start(&sock->poll, UV_READABLE, link_events_on_readable);
    changed = true;
  }
  for (int i = 0; i < MAX_FRAMES_PER_WAKEUP && sock->fd >= 0; i++) {
    ssize_t n = recv(sock->fd, link->buffer, sizeof link->buffer, MSG_DONTWAIT);
    if (n >= 0 || errno == ENOBUFS) {
      changed = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      napi_value error = make_error(env, errno, "receiving netlink link events failed: %s", strerror(errno));
      call_js(sock, sock->on_error, 1, &error);
    }
    break;
  }
  if (changed && sock->fd >= 0) call_js(sock, sock->on_data, 0, NULL);
  napi_close_handle_scope(env, scope);
}

// openLinkEvents(onChange, onError) -> handle: onChange() after links of this network namespace
// were added, removed or changed.
static napi_value open_link_events(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  napi_valuetype t1, t2;
  napi_typeof(env, argv[0], &t1);
  napi_typeof(env, argv[1], &t2);
  if (t1 != napi_function || t2 != napi_function) {
    throw_type_error(env, "onChange and onError must be functions");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    throw_error(env, errno, "cannot open a netlink socket: %s", strerror(errno));
    return NULL;
  }
  struct sockaddr_nl local;
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(fd);
    throw_error(env, err, "cannot join the netlink link group: %s", strerror(err));
    return NULL;
  }
  link_events *link = calloc(1, sizeof *link);
  if (!link) {
    close(fd);
    throw_error(env, ENOMEM, "out of memory");
    return NULL;
  }
  return watch_socket(env, &link->base, fd, argv[0], argv[1], "anchorlb:LinkEvents", link_events_on_readable,
                      "netlink socket");
}

// ---------------------------------------------------------------------------------------

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"interfaceInfo", NULL, interface_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openPacketSocket", NULL, open_packet_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetSend", NULL, packet_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetMembership", NULL, packet_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetClose", NULL, close_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"createTcpSocket", NULL, create_tcp_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTcpMd5Key", NULL, set_tcp_md5_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setIpTtl", NULL, set_ip_ttl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setIpMinTtl", NULL, set_ip_min_ttl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openUdpSocket", NULL, open_udp_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSend", NULL, udp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpClose", NULL, close_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openLinkEvents", NULL, open_link_events, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkEventsClose", NULL, close_socket, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
