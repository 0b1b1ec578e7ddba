// Compiles lwIP's public headers against our port with the project's warnings as errors, so the
// port (lwipopts.h, arch/cc.h) is checked with the strictness of our own code even though lwIP's
// sources are built without it. The static assertions pin options the partition relies on.
#include "lwip/init.h"
#include "lwip/opt.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

_Static_assert(NO_SYS == 1, "the management partition runs lwIP without an OS");
_Static_assert(LWIP_IPV4&& LWIP_IPV6, "halcyon.cfg offers IPv4 and IPv6 management addresses");
_Static_assert(LWIP_DHCP, "management.address = dhcp needs lwIP's DHCP client");
_Static_assert(LWIP_ALTCP, "the HTTPS API layers TLS on ALTCP");
_Static_assert(LWIP_VERSION_MAJOR == 2 && LWIP_VERSION_MINOR == 1 && LWIP_VERSION_REVISION == 3,
               "port written for lwIP 2.1.3");
