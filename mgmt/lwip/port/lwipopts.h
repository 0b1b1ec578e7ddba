// lwIP configuration for Halcyon's management partition: one network interface, no OS underneath
// (NO_SYS: lwIP is driven from a single polling loop, so no locking and no threads), IPv4 and IPv6
// with DHCP/SLAAC as halcyon.cfg's [management] section allows, raw TCP/ALTCP for the HTTPS API.
#pragma once

// ---- Operating environment ----
#define NO_SYS 1               // no threads, mailboxes or semaphores: callback API only
#define SYS_LIGHTWEIGHT_PROT 0 // single context; the partition never calls lwIP from an ISR
#define LWIP_TIMERS 1          // sys_check_timeouts() from the poll loop, clocked by sys_now()
#define LWIP_SOCKET 0          // BSD sockets need an OS
#define LWIP_NETCONN 0         // sequential API needs threads
#define LWIP_NETIF_API 0

// ---- Memory: static pools, never malloc ----
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
// Sized for the API's 64 connection slots (kMaxApiConnections, mgmt/net/api_listener.hpp) all
// busy at once: a PCB per slot plus room for connections being refused with 503 and closing ones
// in LAST_ACK/TIME_WAIT (lwIP recycles those when the pool runs dry); a few unacknowledged
// segments and a received frame or two per connection. Send data is copied into MEM_SIZE's heap;
// when it is full the listener waits for ACKs (ERR_MEM), so it bounds throughput, not safety.
#define MEM_SIZE (512 * 1024)
#define MEMP_NUM_PBUF 64
#define MEMP_NUM_TCP_PCB 96
#define MEMP_NUM_TCP_PCB_LISTEN 4
#define MEMP_NUM_TCP_SEG 256
#define MEMP_NUM_UDP_PCB 8
#define PBUF_POOL_SIZE 160
#define PBUF_POOL_BUFSIZE 1536

// ---- Protocols ----
#define LWIP_ETHERNET 1
#define LWIP_ARP 1
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_IPV6_AUTOCONFIG 1 // SLAAC
#define LWIP_IPV6_DHCP6 0
// 64-bit pointers do not fit the 8-byte IPv6 fragment header lwIP reuses for reassembly
// bookkeeping; copy the header instead (lwIP asserts on the first timer tick otherwise).
#define IPV6_FRAG_COPYHEADER 1
#define LWIP_DHCP 1
#define LWIP_AUTOIP 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_ALTCP 1     // the TLS layer of the management API plugs in as an ALTCP layer
#define LWIP_ALTCP_TLS 0 // ...but not lwIP's own mbedTLS binding
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define TCP_MSS 1460
#define TCP_WND (8 * TCP_MSS)
#define TCP_SND_BUF (8 * TCP_MSS)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF) / TCP_MSS)

// ---- Interface bookkeeping ----
#define LWIP_NETIF_STATUS_CALLBACK 1 // report address changes (DHCP lease, SLAAC) on the console
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1

// ---- Diagnostics ----
#define LWIP_STATS 0
#define LWIP_DEBUG 0
