build/obj/drivers/host/host.o: drivers/host/host.c \
 include/vmbus/channel.h include/vmbus/guid.h include/vmbus/ring.h \
 include/vmbus/packet.h include/winapi/log.h drivers/host/host_private.h \
 include/winapi/host.h include/winapi/protocol.h
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/winapi/log.h:
drivers/host/host_private.h:
include/winapi/host.h:
include/winapi/protocol.h:
