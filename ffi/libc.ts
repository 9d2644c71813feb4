// ffi/libc.ts — the few libc calls Bun has no API for: a Unix listening
// socket whose accepted fds we own (so we can ask the kernel who the peer
// is with SO_PEERCRED before handing the fd to Bun), and getuid.
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import type { PointerReturns } from "./types.ts";

const { i32, u32, ptr: P } = FFIType;

const lib = dlopen("libc.so.6", {
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, P, u32], returns: i32 },
  connect: { args: [i32, P, u32], returns: i32 },
  listen: { args: [i32, i32], returns: i32 },
  accept4: { args: [i32, P, P, i32], returns: i32 },
  sendto: { args: [i32, P, "usize", i32, P, u32], returns: FFIType.i64 }, // ssize_t
  getsockopt: { args: [i32, i32, i32, P, P], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, P, "usize"], returns: FFIType.i64 },
  getuid: { args: [], returns: u32 },
  setenv: { args: [P, P, i32], returns: i32 },
  sched_setscheduler: { args: [i32, i32, P], returns: i32 },
  __errno_location: { args: [], returns: P },
  mmap: { args: [P, "usize", i32, i32, i32, FFIType.i64], returns: P },
  munmap: { args: [P, "usize"], returns: i32 },
  madvise: { args: [P, "usize", i32], returns: i32 },
  // Variadic in C; every caller here passes one pointer, which the x86-64 and
  // aarch64 ABIs pass like a fixed argument.
  ioctl: { args: [i32, FFIType.u64, P], returns: i32 },
  socketpair: { args: [i32, i32, i32, P], returns: i32 },
  pipe2: { args: [P, i32], returns: i32 },
  write: { args: [i32, P, "usize"], returns: FFIType.i64 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  epoll_ctl: { args: [i32, i32, i32, P], returns: i32 },
  epoll_create1: { args: [i32], returns: i32 },
  // Variadic in C; glibc's syscall() only moves its integer arguments into
  // registers, so calling it with fixed ones is sound on x86-64 and aarch64.
  syscall: { args: [FFIType.i64, i32, P, P, "usize"], returns: FFIType.i64 },
});
const C = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_SEQPACKET = 5;
const MSG_NOSIGNAL = 0x4000;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct sockaddr_un: sa_family_t (u16) + char sun_path[108] */
const SOCKADDR_UN = { size: 110, family: 0, path: 2, pathMax: 108 } as const;
/** struct epoll_event { uint32_t events; epoll_data_t data; }: packed on x86-64 (12 bytes), naturally aligned elsewhere. */
const EPOLL_EVENT = process.arch === "x64" ? ({ size: 12, events: 0, data: 4 } as const) : ({ size: 16, events: 0, data: 8 } as const);
export const EPOLL = { ctlAdd: 1, ctlDel: 2, ctlMod: 3, in: 0x1 } as const;
/** struct ucred: pid_t pid, uid_t uid, gid_t gid */
const UCRED = { size: 12, pid: 0, uid: 4, gid: 8 } as const;

export const EAGAIN = 11;

/** errno of the last failed call on this (the main) thread. */
export function errno(): number {
  return read.i32(C.__errno_location()!, 0);
}

export class SysError extends Error {
  constructor(
    what: string,
    readonly errno: number,
  ) {
    super(`${what} failed (errno ${errno})`);
  }
}

/** A non-blocking, close-on-exec Unix stream socket listening at `path`. */
export function listenUnix(path: string, backlog = 128): number {
  const enc = new TextEncoder().encode(path);
  if (enc.length >= SOCKADDR_UN.pathMax) throw new Error(`socket path too long (${enc.length} bytes, max ${SOCKADDR_UN.pathMax - 1}): ${path}`);
  const fd = C.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", errno());
  const addr = new Uint8Array(SOCKADDR_UN.size);
  new DataView(addr.buffer).setUint16(SOCKADDR_UN.family, AF_UNIX, true);
  addr.set(enc, SOCKADDR_UN.path);
  if (C.bind(fd, ptr(addr), SOCKADDR_UN.size) !== 0) {
    const e = errno();
    C.close(fd);
    throw new SysError(`bind ${path}`, e);
  }
  if (C.listen(fd, backlog) !== 0) {
    const e = errno();
    C.close(fd);
    throw new SysError("listen", e);
  }
  return fd;
}

/**
 * Whether something listens on the Unix socket at `path`: a connect that
 * succeeds (or would, but its queue is full) means live; ECONNREFUSED means a
 * leftover from a crash. Synchronous: a local connect does not block.
 */
export function unixSocketLive(path: string): boolean {
  const enc = new TextEncoder().encode(path);
  if (enc.length >= SOCKADDR_UN.pathMax) return false;
  const fd = C.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", errno());
  const addr = new Uint8Array(SOCKADDR_UN.size);
  new DataView(addr.buffer).setUint16(SOCKADDR_UN.family, AF_UNIX, true);
  addr.set(enc, SOCKADDR_UN.path);
  const rc = C.connect(fd, ptr(addr), SOCKADDR_UN.size);
  const e = rc === 0 ? 0 : errno();
  C.close(fd);
  return rc === 0 || e === EAGAIN;
}

/** Accepts one pending connection (non-blocking, close-on-exec); null when none is pending. */
export function acceptOne(listenFd: number): number | null {
  const fd = C.accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) return fd;
  const e = errno();
  if (e === EAGAIN) return null;
  throw new SysError("accept", e);
}

/**
 * struct sockaddr_un for `path` and its length. A leading "@" means Linux's
 * abstract namespace (sd_notify's convention): the name starts with a NUL and
 * the length counts only the bytes used.
 */
function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  const enc = new TextEncoder().encode(path);
  if (enc.length >= SOCKADDR_UN.pathMax) throw new Error(`socket path too long (${enc.length} bytes, max ${SOCKADDR_UN.pathMax - 1}): ${path}`);
  const addr = new Uint8Array(SOCKADDR_UN.size);
  new DataView(addr.buffer).setUint16(SOCKADDR_UN.family, AF_UNIX, true);
  addr.set(enc, SOCKADDR_UN.path);
  if (path.startsWith("@")) {
    addr[SOCKADDR_UN.path] = 0;
    return { addr, len: SOCKADDR_UN.path + enc.length };
  }
  return { addr, len: SOCKADDR_UN.size };
}

/** An unbound, close-on-exec Unix datagram socket (for sendDatagram). */
export function datagramSocket(): number {
  const fd = C.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket(AF_UNIX, SOCK_DGRAM)", errno());
  return fd;
}

/** Sends one datagram from `fd` to the Unix socket at `path` ("@name" = abstract). */
export function sendDatagram(fd: number, path: string, data: Uint8Array): void {
  const { addr, len } = sockaddrUn(path);
  const n = Number(C.sendto(fd, ptr(data), data.length, MSG_NOSIGNAL, ptr(addr), len));
  if (n < 0) throw new SysError(`sendto ${path}`, errno());
  if (n !== data.length) throw new Error(`sendto ${path}: sent ${n} of ${data.length} bytes`);
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Who is on the other end of a connected Unix socket, as the kernel saw at connect(). */
export function peerCred(fd: number): PeerCred {
  const buf = new Uint8Array(UCRED.size);
  const len = new Uint32Array([UCRED.size]);
  if (C.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(buf), ptr(len)) !== 0) throw new SysError("getsockopt(SO_PEERCRED)", errno());
  const v = new DataView(buf.buffer);
  return { pid: v.getInt32(UCRED.pid, true), uid: v.getUint32(UCRED.uid, true), gid: v.getUint32(UCRED.gid, true) };
}

export function closeFd(fd: number): void {
  C.close(fd);
}

const SCHED_RR = 2;
/** Children (processes weft spawns: Wayland clients, tests) start as SCHED_OTHER again. */
const SCHED_RESET_ON_FORK = 0x40000000;

/**
 * Puts the calling thread (pid 0 = this thread only) under SCHED_RR at
 * `priority`; with SCHED_RESET_ON_FORK, threads and processes it creates
 * later start as SCHED_OTHER. Needs root or CAP_SYS_NICE; returns false
 * without.
 */
export function setThreadRealtime(priority: number): boolean {
  const param = new Int32Array([priority]); // struct sched_param { int sched_priority; }
  return C.sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, ptr(param)) === 0;
}

/** Back to SCHED_OTHER (always allowed). */
export function setThreadNormal(): boolean {
  const param = new Int32Array([0]);
  return C.sched_setscheduler(0, 0 /* SCHED_OTHER */, ptr(param)) === 0;
}

export function getuid(): number {
  return C.getuid();
}

/**
 * Sets an environment variable for the C libraries in this process too:
 * Bun's process.env does not reach libc's getenv (libwayland reads
 * XDG_RUNTIME_DIR through it).
 */
export function setenvBoth(name: string, value: string): void {
  process.env[name] = value;
  const enc = (s: string) => new TextEncoder().encode(s + "\0");
  C.setenv(ptr(enc(name)), ptr(enc(value)), 1);
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 5: "EIO", 6: "ENXIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV",
  19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 25: "ENOTTY", 28: "ENOSPC", 30: "EROFS", 36: "ENAMETOOLONG", 38: "ENOSYS", 40: "ELOOP", 95: "EOPNOTSUPP",
};
/** "EACCES" for 13, "errno 77" for what we have no name for. */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** mmap(MAP_SHARED, read/write) of `size` bytes of `fd` at `offset`; unmap with `unmapShared`. */
export function mapShared(fd: number, size: number, offset: number): number {
  // MAP_FAILED is (void *)-1, which Bun hands back as a bigint (it does not fit a double).
  const p = C.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset) as unknown as number | bigint | null;
  if (p === null || typeof p === "bigint") throw new SysError("mmap", errno());
  return p;
}

export function unmapShared(addr: number, size: number): void {
  if (C.munmap(addr as unknown as Pointer, size) !== 0) throw new SysError("munmap", errno());
}

const MADV_DONTNEED = 4;

/**
 * Unmaps the pages of [addr, addr+size) from this process's page tables
 * (madvise MADV_DONTNEED). Only sound for mappings whose every page is an
 * unmodified copy of its file: the next touch maps the file's page again.
 */
export function dropCleanPages(addr: number, size: number): void {
  if (C.madvise(addr as unknown as Pointer, size, MADV_DONTNEED) !== 0) throw new SysError("madvise", errno());
}

/** ioctl(fd, request, arg) → 0 or -errno. */
export function ioctl(fd: number, request: number | bigint, arg: Uint8Array | null): number {
  const r = C.ioctl(fd, BigInt(request) as unknown as number, arg ? ptr(arg) : null);
  return r < 0 ? -errno() : r;
}

/** ioctl whose argument the kernel reads as a value, not a pointer (KDSETMODE, VT_ACTIVATE, …). */
export function ioctlValue(fd: number, request: number | bigint, value: number): number {
  // A pointer argument is a number to bun:ffi; the ABI passes both the same way.
  const r = C.ioctl(fd, BigInt(request) as unknown as number, value as unknown as Pointer);
  return r < 0 ? -errno() : r;
}

/** A connected pair of non-blocking, close-on-exec sockets (SOCK_SEQPACKET keeps message boundaries). */
export function socketPair(type: "stream" | "seqpacket" = "seqpacket"): [number, number] {
  const fds = new Int32Array(2);
  if (C.socketpair(AF_UNIX, (type === "stream" ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ptr(fds)) !== 0) throw new SysError("socketpair", errno());
  return [fds[0], fds[1]];
}

/** Reads what is pending on a non-blocking fd (up to `max` bytes); null when nothing is (EAGAIN). */
export function readSome(fd: number, max: number): Uint8Array | null {
  const buf = new Uint8Array(max);
  const n = Number(C.read(fd, ptr(buf), max));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) return null;
    throw new SysError("read", e);
  }
  return buf.subarray(0, n);
}

const AF_NETLINK = 16;
const NETLINK_KOBJECT_UEVENT = 15;
/** The kernel's uevent multicast group (udev's own rebroadcast is group 2). */
const UEVENT_GROUP_KERNEL = 1;
/** struct sockaddr_nl: u16 nl_family, u16 pad, u32 nl_pid, u32 nl_groups */
const SOCKADDR_NL = { size: 12, family: 0, pid: 4, groups: 8 } as const;

/**
 * A non-blocking netlink socket receiving the kernel's uevents (device
 * add/remove/change, e.g. a DRM connector hotplug). Needs no privilege.
 */
export function ueventSocket(): number {
  const fd = C.socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) throw new SysError("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", errno());
  const addr = new Uint8Array(SOCKADDR_NL.size);
  const dv = new DataView(addr.buffer);
  dv.setUint16(SOCKADDR_NL.family, AF_NETLINK, true);
  dv.setUint32(SOCKADDR_NL.groups, UEVENT_GROUP_KERNEL, true);
  if (C.bind(fd, ptr(addr), SOCKADDR_NL.size) !== 0) {
    const e = errno();
    C.close(fd);
    throw new SysError("bind(uevent netlink)", e);
  }
  return fd;
}

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const F_SETPIPE_SZ = 1031;

/** A close-on-exec pipe: [read end, write end]. Blocking, so a client handed one end sees an ordinary pipe. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  if (C.pipe2(ptr(fds), O_CLOEXEC) !== 0) throw new SysError("pipe2", errno());
  return [fds[0]!, fds[1]!];
}

/** One read(2): bytes read (0 at end of file), or -errno. */
export function readFd(fd: number, into: Uint8Array): number {
  const n = Number(C.read(fd, ptr(into), into.length));
  return n < 0 ? -errno() : n;
}

/** One write(2): bytes written, or -errno (-EAGAIN when a non-blocking fd is full). */
export function writeFd(fd: number, data: Uint8Array): number {
  if (data.length === 0) return 0;
  const n = Number(C.write(fd, ptr(data), data.length));
  return n < 0 ? -errno() : n;
}

/** Makes writes to `fd` fail with EAGAIN instead of blocking (the loop must never block). */
export function setNonBlocking(fd: number): void {
  const fl = C.fcntl(fd, F_GETFL, 0);
  if (fl < 0 || C.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw new SysError("fcntl", errno());
}

/** Asks for a pipe buffer of `bytes` (the kernel caps it at /proc/sys/fs/pipe-max-size); false if refused. */
export function growPipe(fd: number, bytes: number): boolean {
  return C.fcntl(fd, F_SETPIPE_SZ, bytes) >= 0;
}

/** openat2(2)'s syscall number: new syscalls share one number on every architecture. */
const SYS_openat2 = 437;
/** struct open_how: u64 flags, u64 mode, u64 resolve */
const OPEN_HOW = { size: 24, flags: 0, mode: 8, resolve: 16 } as const;
export const RESOLVE = { noXdev: 0x01, noMagicLinks: 0x02, noSymlinks: 0x04, beneath: 0x08, inRoot: 0x10 } as const;

/**
 * openat2(2): opens `path` relative to the directory `dirFd`, resolved by
 * the kernel under `resolve` (RESOLVE.beneath: never out of `dirFd`, not
 * even for a moment through a symlink or `..`). Returns the fd or -errno
 * (-EXDEV for a path that would leave, -ELOOP for a refused symlink,
 * -ENOSYS before Linux 5.6). Close-on-exec always.
 */
export function openat2(dirFd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = new DataView(new ArrayBuffer(OPEN_HOW.size));
  how.setBigUint64(OPEN_HOW.flags, BigInt(flags | O_CLOEXEC), true);
  how.setBigUint64(OPEN_HOW.mode, BigInt(mode), true);
  how.setBigUint64(OPEN_HOW.resolve, BigInt(resolve), true);
  const fd = Number(C.syscall(SYS_openat2, dirFd, ptr(new TextEncoder().encode(path + "\0")), ptr(new Uint8Array(how.buffer)), OPEN_HOW.size));
  return fd < 0 ? -errno() : fd;
}

/** A new epoll instance (close-on-exec). */
export function epollCreate(): number {
  const fd = C.epoll_create1(SOCK_CLOEXEC);
  if (fd < 0) throw new SysError("epoll_create1", errno());
  return fd;
}

/**
 * One fd's registration in an epoll whose data word is given whole (in-loop.ts
 * borrows Bun's). The event is built once; add/mod/del return 0 or -errno.
 */
export class EpollRegistration {
  private readonly event = new Uint8Array(EPOLL_EVENT.size);
  private readonly view = new DataView(this.event.buffer);
  constructor(
    readonly ep: number,
    readonly fd: number,
    data: bigint,
  ) {
    this.view.setBigUint64(EPOLL_EVENT.data, data, true);
  }
  add(events: number): number {
    return this.ctl(EPOLL.ctlAdd, events);
  }
  mod(events: number): number {
    return this.ctl(EPOLL.ctlMod, events);
  }
  del(): number {
    return this.ctl(EPOLL.ctlDel, 0);
  }
  private ctl(op: number, events: number): number {
    this.view.setUint32(EPOLL_EVENT.events, events, true);
    return C.epoll_ctl(this.ep, op, this.fd, ptr(this.event)) === 0 ? 0 : -errno();
  }
}
