/**
 * Linux's socket constants (x86-64 and arm64 share them), for the calls
 * corral makes through libc: one place, so that no two files disagree.
 * @module
 */

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_REUSEPORT = 15;
export const SO_ACCEPTCONN = 30;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const SHUT_RDWR = 2;
