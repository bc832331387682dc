build/obj/apps/winapi-host-sim/main.o: apps/winapi-host-sim/main.c \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h include/vmbus/sim.h \
 include/winapi/host.h include/winapi/log.h
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/vmbus/sim.h:
include/winapi/host.h:
include/winapi/log.h:
